/**
 * The client: a token source, reuse and the transport, composed.
 *
 * @module
 */

import { resolveConfig } from "./_config.ts";
import { authFetch } from "./auth_fetch.ts";
import type { ClientOptions, GetTokenOptions, TokenInfo } from "./options.ts";
import { ReuseTokenSource } from "./reuse_token_source.ts";

/** An authenticated PropQ client, as returned by {@linkcode createClient}. */
export interface PropQClient {
  /**
   * Returns a valid access token: the cached one while it has enough life
   * left, otherwise a new one (one request however many callers ask at once).
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /**
   * Like `getToken`, with the token's timing: when it expires and when the
   * client refreshes it, in epoch ms.
   */
  getTokenInfo(options?: GetTokenOptions): Promise<TokenInfo>;
  /** `fetch` for the PropQ API: adds the token and PropQ's headers; see `authedFetch`. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Drops the cached token, so the next call fetches a new one. */
  invalidate(): Promise<void>;
  /**
   * Resolves once the work the client does behind its callers is done:
   * writing a new token to the cache and releasing the cache's lock (which
   * `getToken` does not wait for), and a refresh running ahead. Await it
   * before closing a KV or Redis connection or exiting a short-lived process;
   * on an edge runtime, hand it to `waitUntil`.
   */
  settled(): Promise<void>;
}

class Client implements PropQClient {
  readonly #tokens: ReuseTokenSource;
  readonly #fetch: PropQClient["fetch"];

  constructor(options: ClientOptions | undefined) {
    const config = resolveConfig(options);
    this.#tokens = new ReuseTokenSource(config);
    this.#fetch = authFetch(this.#tokens, { baseUrl: config.baseUrl, fetch: config.fetch });
  }

  getToken(options?: GetTokenOptions): Promise<string> {
    return this.#tokens.get(options);
  }

  getTokenInfo(options?: GetTokenOptions): Promise<TokenInfo> {
    return this.#tokens.info(options);
  }

  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return this.#fetch(input, init);
  }

  invalidate(): Promise<void> {
    return this.#tokens.invalidate();
  }

  settled(): Promise<void> {
    return this.#tokens.settled();
  }
}

/**
 * Creates a PropQ client: validates the options (reading `PROPQ_CLIENT_ID` and
 * `PROPQ_CLIENT_SECRET` from the environment when not given) and returns an
 * object whose `getToken` and `fetch` share one token.
 *
 * Clients built with the same options (the same cache) share token requests:
 * concurrent calls make one request even across clients. A held token is
 * refreshed in the background once less than `refreshWindowSeconds` of its
 * life is left, and served while that refresh fails, until only
 * `minValiditySeconds` remain; `onEvent` tells what happens meanwhile.
 *
 * @param options Credentials, endpoints, cache and transport; all optional.
 * @returns A {@linkcode PropQClient}.
 * @throws {PropQAuthError} with code `config` when the client id or secret is
 * missing or malformed, or another option is invalid. Nothing is sent then.
 *
 * @example A token from the bundled test server
 * ```ts
 * import { createClient } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer();
 * const client = createClient({
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 *   baseUrl: server.baseUrl,
 * });
 * const token = await client.getToken();
 * assert.equal(await client.getToken(), token); // served from the cache
 * assert.equal(server.tokenRequests, 1);
 * await server.close();
 * ```
 *
 * @example A token's life, on a clock the test moves
 * ```ts
 * import { createClient, type PropQAuthEvent } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer({ expiresIn: 3600 });
 * let now = Date.now();
 * const events: PropQAuthEvent[] = [];
 * const client = createClient({
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 *   maxRetries: 0,
 *   now: () => now,
 *   onEvent: (event) => events.push(event),
 * });
 * const info = await client.getTokenInfo();
 * assert.equal(info.refreshAt, info.expiresAt - 300_000); // the default refresh window
 *
 * server.scriptToken({ status: 503 }); // an outage
 * now = info.refreshAt + 1; // inside the window
 * assert.equal(await client.getToken(), info.accessToken); // served at once
 * while (!events.some((event) => event.type === "refresh_failed")) {
 *   await new Promise((resolve) => setTimeout(resolve, 10)); // the refresh runs behind
 * }
 * assert.equal(await client.getToken(), info.accessToken); // still served through the outage
 * await server.close();
 * ```
 */
export function createClient(options?: ClientOptions): PropQClient {
  return new Client(options);
}

/**
 * The client: a token source, a cache and single flight, composed.
 *
 * @module
 */

import { cacheKey } from "./_cache_key.ts";
import { cachedTokenFrom } from "./_cached_token.ts";
import { type Config, readEnv, resolveConfig } from "./_config.ts";
import { abortable } from "./_retry.ts";
import { sendWithToken } from "./_send.ts";
import type { ClientOptions, GetTokenOptions } from "./options.ts";
import type { CachedToken, TokenCache } from "./token_cache.ts";
import { requestToken } from "./token_source.ts";

/** An authenticated PropQ client, as returned by {@linkcode createClient}. */
export interface PropQClient {
  /**
   * Returns a valid access token: the cached one while it has enough life
   * left, otherwise a new one (one request however many callers ask at once).
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** `fetch` for the PropQ API: adds the token and PropQ's headers; see `authedFetch`. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Drops the cached token, so the next call fetches a new one. */
  invalidate(): Promise<void>;
}

/** A token with the moment this process should stop using it. */
interface Held {
  token: CachedToken;
  refreshAt: number;
  answer: Promise<string>;
}

// Reading Date.now() costs more than the rest of a cached getToken() together,
// and the timer that marks the end of an event-loop turn as much as about 50
// readings (4 µs on Deno). So calls read the real clock until this many
// readings in a row land in one millisecond; then, calls being dense, one
// reading vouches for the held token for the rest of the turn (at most
// HITS_PER_READING calls), a turn lasting anywhere near the refresh margin
// (minutes) being a stalled process anyway. One call per request, however
// busy the server, thus costs a reading and no timer (issue 7, bench/).
const DENSE_READINGS = 50;
const HITS_PER_READING = 1000;

/** Skip the cache: a token the caller asked to replace whatever is stored. */
const FORCE = Symbol("force");

// Single flight: one pending token request per cache and key, shared by every
// client of the process that uses the same cache (and so the same options).
const flights = new WeakMap<TokenCache, Map<string, Promise<CachedToken>>>();

type Avoid = string | typeof FORCE | undefined;

/** Runs a cache operation whose failure (a rejection, or a throw) only costs a miss. */
async function quietly(operation: () => unknown): Promise<void> {
  try {
    await operation();
  } catch {
    // A failing cache makes the client fetch more often, never fail.
  }
}

/** Tokens of one client: the source, the cache and the in-process copy. */
class Tokens {
  readonly config: Config;
  readonly #realClock: boolean;
  #key: Promise<string> | undefined;
  #held: Held | undefined;
  #hits = 0;
  #lastReading = NaN;
  #sameReadings = 0;
  #turnEnding = false;
  readonly #endTurn = () => {
    this.#hits = 0;
    this.#sameReadings = 0;
    this.#turnEnding = false;
  };

  constructor(config: Config, realClock: boolean) {
    this.config = config;
    this.#realClock = realClock;
  }

  /** The hot path: a held token with life left is returned without awaiting anything else. */
  get(options?: GetTokenOptions): Promise<string> {
    if (options === undefined && this.#hits > 0) {
      this.#hits--;
      return this.#held!.answer;
    }
    const held = this.#held;
    if (held !== undefined && options?.forceRefresh !== true && options?.signal?.aborted !== true) {
      const now = this.config.now();
      if (now < held.refreshAt) {
        if (this.#realClock) this.#vouch(now);
        return held.answer;
      }
    }
    return this.#obtain(options?.forceRefresh === true ? FORCE : undefined, options?.signal);
  }

  /** After a reading that found the held token good: lets dense calls skip the next readings this turn. */
  #vouch(now: number): void {
    if (!this.#turnEnding) {
      if (now !== this.#lastReading) {
        this.#lastReading = now;
        this.#sameReadings = 0;
        return;
      }
      if (++this.#sameReadings < DENSE_READINGS) return;
      this.#turnEnding = true;
      setTimeout(this.#endTurn, 0);
    }
    this.#hits = HITS_PER_READING;
  }

  #hold(token: CachedToken | undefined): void {
    this.#hits = 0;
    this.#held = token && { token, refreshAt: this.#refreshAt(token), answer: Promise.resolve(token.accessToken) };
  }

  /** After the API rejected `rejected`: a different token, fetched only if nobody has one yet. */
  replace(rejected: string, signal?: AbortSignal): Promise<string> {
    const held = this.#held;
    if (held !== undefined && held.token.accessToken !== rejected && this.config.now() < held.refreshAt) {
      return Promise.resolve(held.token.accessToken); // another caller already replaced it
    }
    this.#hold(undefined);
    return this.#obtain(rejected, signal);
  }

  async invalidate(): Promise<void> {
    this.#hold(undefined);
    const key = await this.key();
    await quietly(() => this.config.cache.delete(key));
  }

  key(): Promise<string> {
    const { tokenUrl, clientId, clientSecret } = this.config;
    return this.#key ??= cacheKey(tokenUrl, clientId, clientSecret);
  }

  /**
   * `avoid` is {@linkcode FORCE} to skip the cache, or a token the API
   * rejected that must not be served again; concurrent callers with the same
   * `avoid` share one flight.
   */
  async #obtain(avoid: Avoid, signal: AbortSignal | undefined): Promise<string> {
    signal?.throwIfAborted();
    const key = await this.key();
    const { cache } = this.config;
    let pending = flights.get(cache);
    if (pending === undefined) flights.set(cache, pending = new Map());
    // Tokens are visible ASCII, so neither separator can occur inside one.
    const flightKey = avoid === undefined ? key : avoid === FORCE ? `${key}\0` : `${key}\n${avoid}`;
    let flight = pending.get(flightKey);
    if (flight === undefined) {
      flight = this.#fly(key, avoid).finally(() => pending.delete(flightKey));
      pending.set(flightKey, flight);
    }
    const token = await abortable(flight, signal);
    if (this.#held?.token !== token) this.#hold(token);
    return token.accessToken;
  }

  async #fly(key: string, avoid: Avoid): Promise<CachedToken> {
    const force = avoid === FORCE;
    if (!force) {
      const cached = await this.#read(key, avoid);
      if (cached !== undefined) return cached;
    }
    const release = await this.#lock(key);
    try {
      if (release !== undefined && !force) {
        // Another process may have fetched while we waited for the lock.
        const cached = await this.#read(key, avoid);
        if (cached !== undefined) return cached;
      }
      const token = await requestToken(this.config);
      await quietly(() => this.config.cache.set(key, token));
      return token;
    } finally {
      if (release !== undefined) await quietly(release);
    }
  }

  async #read(key: string, avoid: Avoid): Promise<CachedToken | undefined> {
    let cached: CachedToken | undefined;
    try {
      cached = cachedTokenFrom(await this.config.cache.get(key));
    } catch {
      return undefined;
    }
    if (cached === undefined) return undefined;
    if (cached.accessToken === avoid) {
      // Drop the rejected token only if it is still the one cached.
      await quietly(() => this.config.cache.delete(key));
      return undefined;
    }
    return this.config.now() < this.#refreshAt(cached) ? cached : undefined;
  }

  async #lock(key: string): Promise<(() => Promise<void>) | undefined> {
    const { cache } = this.config;
    if (typeof cache.lock !== "function") return undefined;
    try {
      return await cache.lock(key);
    } catch {
      return undefined;
    }
  }

  /** Refresh when less than the window remains, the window capped at half the lifetime. */
  #refreshAt(token: CachedToken): number {
    const issuedAt = token.issuedAt;
    const lifetime = typeof issuedAt === "number" && issuedAt < token.expiresAt ? token.expiresAt - issuedAt : Infinity;
    return token.expiresAt - Math.min(this.config.refreshWindowMs, lifetime / 2);
  }
}

class Client implements PropQClient {
  readonly #tokens: Tokens;

  constructor(tokens: Tokens) {
    this.#tokens = tokens;
  }

  getToken(options?: GetTokenOptions): Promise<string> {
    return this.#tokens.get(options);
  }

  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    return sendWithToken(this.#tokens, input, init);
  }

  invalidate(): Promise<void> {
    return this.#tokens.invalidate();
  }
}

/** What `sendWithToken` needs of a client's tokens. */
export type TokenProvider = Pick<Tokens, "get" | "replace" | "config">;

/**
 * Creates a PropQ client: validates the options (reading `PROPQ_CLIENT_ID` and
 * `PROPQ_CLIENT_SECRET` from the environment when not given) and returns an
 * object whose `getToken` and `fetch` share one token.
 *
 * Clients built with the same options (the same cache) share token requests:
 * concurrent calls make one request even across clients.
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
 */
export function createClient(options?: ClientOptions): PropQClient {
  return new Client(new Tokens(resolveConfig(options), options?.now === undefined));
}

// The one-shot functions reuse a client per options object, and one for the
// environment's credentials, so their cached token is found again.
const byOptions = new WeakMap<ClientOptions, PropQClient>();
let fromEnv: { id: string | undefined; secret: string | undefined; client: PropQClient } | undefined;

/** The client the one-shot functions use for `options`. */
export function clientFor(options: ClientOptions | undefined): PropQClient {
  if (options !== undefined) {
    let client = byOptions.get(options);
    if (client === undefined) byOptions.set(options, client = createClient(options));
    return client;
  }
  const id = readEnv("PROPQ_CLIENT_ID");
  const secret = readEnv("PROPQ_CLIENT_SECRET");
  if (fromEnv === undefined || fromEnv.id !== id || fromEnv.secret !== secret) {
    fromEnv = { id, secret, client: createClient() };
  }
  return fromEnv.client;
}

/** Options of {@linkcode getToken}: the client's options plus the per-call ones. */
export interface GetTokenFunctionOptions extends ClientOptions, GetTokenOptions {}

/**
 * Returns a PropQ access token, from the cache while it has enough life left,
 * else from the token endpoint (OAuth2 client credentials, RFC 6749 §4.4).
 *
 * @param options Credentials and client options (default: the environment's
 * `PROPQ_CLIENT_ID` and `PROPQ_CLIENT_SECRET`), plus `forceRefresh` and `signal`.
 * @returns The access token.
 * @throws {PropQAuthError} when no token can be obtained: `config`,
 * `invalid_client`, `invalid_request`, `invalid_response`, `http_error`,
 * `network_error` or `timeout`. An aborted `signal` rejects with its reason.
 *
 * @example One call, one token
 * ```ts
 * import { getToken } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer();
 * const token = await getToken({
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 * });
 * assert.ok(token.length > 0);
 * await server.close();
 * ```
 */
export function getToken(options?: GetTokenFunctionOptions): Promise<string> {
  try {
    if (options === undefined) return clientFor(undefined).getToken();
    const { forceRefresh, signal } = options;
    return clientFor(options).getToken({ forceRefresh, signal });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The one-shot functions, {@linkcode getToken} and {@linkcode authedFetch}:
 * each call finds the client its options describe, so the token is reused
 * whether or not the caller keeps a client.
 *
 * @module
 */

import { ID_ENV, SECRET_ENV } from "./_config.ts";
import { readEnv } from "./_env.ts";
import { createClient, type PropQClient } from "./client.ts";
import type { ClientOptions, GetTokenOptions } from "./options.ts";

/** Options of {@linkcode getToken}: the client's options plus the per-call ones. */
export interface GetTokenFunctionOptions extends ClientOptions, GetTokenOptions {}

// A client per distinct options value, so a fresh options literal per call
// finds the same client. Objects (cache, fetch, now) count by identity,
// through a number each gets on first sight; the secret is compared as it is,
// never put in a key. Credentials left out come from the environment, which
// may change between calls.
const MAX_SHAPES = 64;
const clients = new Map<string, { secret: string | undefined; client: PropQClient }[]>();
const ids = new WeakMap<object, number>();
let lastId = 0;

function idOf(value: unknown): unknown {
  if (value instanceof URL) return value.href;
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return value;
  let id = ids.get(value);
  if (id === undefined) ids.set(value, id = ++lastId);
  return `#${id}`;
}

/** The client the one-shot functions use for `options`. */
function clientFor(options: GetTokenFunctionOptions = {}): PropQClient {
  const { clientSecret, forceRefresh: _force, signal: _signal, ...rest } = options;
  rest.clientId ??= readEnv(ID_ENV).value;
  const secret = clientSecret ?? readEnv(SECRET_ENV).value;
  const names = Object.keys(rest).sort() as (keyof typeof rest)[];
  const shape = JSON.stringify(names.map((name) => [name, idOf(rest[name])]));
  let bucket = clients.get(shape);
  let entry = bucket?.find((candidate) => candidate.secret === secret);
  if (entry === undefined) {
    entry = { secret, client: createClient(options) };
    if (bucket === undefined) {
      // Oldest first out: a process that cycles through many credentials keeps a bounded set.
      if (clients.size >= MAX_SHAPES) clients.delete(clients.keys().next().value!);
      clients.set(shape, bucket = []);
    }
    bucket.push(entry);
  }
  return entry.client;
}

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
    if (options === undefined) return clientFor().getToken();
    const { forceRefresh, signal } = options;
    return clientFor(options).getToken({ forceRefresh, signal });
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Calls the PropQ API like `fetch`, adding `Authorization: Bearer <token>`,
 * `Content-Type: application/json` (unless you set a Content-Type, or the body
 * is FormData, URLSearchParams or a typed Blob) and `Accept: application/json`
 * (unless you set one).
 *
 * - A relative path resolves against `baseUrl`.
 * - The token never leaves the API's origin: another origin is refused with a
 *   `foreign_origin` error before anything is sent, same-origin redirects are
 *   followed with the token, a redirect to another origin is not followed (its
 *   3xx is returned). `redirect: "manual"` and `"error"` behave as in `fetch`.
 * - On a 401 the rejected token is dropped, a new one obtained, and the
 *   request sent once more when its body can be replayed (not a stream).
 * - Every other answer is returned as it is, like `fetch` does.
 *
 * @param input A path such as `"/v1/…"`, an absolute URL on the API's origin, or a `Request`.
 * @param init As for `fetch`.
 * @param options Client options (default: credentials from the environment).
 * @returns The API's response.
 * @throws {PropQAuthError} `foreign_origin` for another origin; any token error.
 * @throws {TypeError} as `fetch` does, for a network failure or a refused redirect.
 *
 * @example An authenticated call to the bundled test server
 * ```ts
 * import { authedFetch } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer();
 * const options = {
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 *   baseUrl: server.baseUrl,
 * };
 * const response = await authedFetch("/v1/developments/7/units/update-by-name", {
 *   method: "POST",
 *   body: JSON.stringify({ UntName: "B-2", UntStatus: 1, UntPrice: 1, UntDirections: [] }),
 * }, options);
 * assert.equal(response.status, 200);
 * await response.body?.cancel();
 * await server.close();
 * ```
 */
export function authedFetch(
  input: string | URL | Request,
  init?: RequestInit,
  options?: ClientOptions,
): Promise<Response> {
  try {
    return clientFor(options).fetch(input, init);
  } catch (error) {
    return Promise.reject(error);
  }
}

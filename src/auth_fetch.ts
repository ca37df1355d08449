/**
 * `authedFetch`: `fetch` for the PropQ API, token and headers included.
 *
 * @module
 */

import { clientFor } from "./client.ts";
import type { ClientOptions } from "./options.ts";

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

/**
 * OAuth2 client-credentials tokens for the PropQ API of Resales Online, cached
 * and reused for their whole life, and a `fetch` that carries them.
 *
 * Built on web standards only (`fetch`, `URLSearchParams`, `crypto.subtle`):
 * runs on Deno, Node, Bun, Deno Deploy and Cloudflare Workers. Credentials
 * default to the `PROPQ_CLIENT_ID` and `PROPQ_CLIENT_SECRET` environment
 * variables. File and Deno KV caches live in `@propq/auth/file` and
 * `@propq/auth/kv`; a local PropQ-compatible server in `@propq/auth/testing`.
 *
 * @example Get a token, then call the API with it
 * ```ts
 * import { createClient, updateUnitByName, UnitStatus } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer(); // stands in for https://api.propq.com
 * const client = createClient({
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 *   baseUrl: server.baseUrl,
 * });
 * await updateUnitByName(client, 1234, {
 *   UntName: "A-101",
 *   UntStatus: UnitStatus.RESERVED,
 *   UntPrice: 299000,
 *   UntDirections: ["South", "West"],
 * });
 * assert.equal(server.tokenRequests, 1);
 * await server.close();
 * ```
 *
 * @module
 */

export { createClient } from "./src/client.ts";
export type { PropQClient } from "./src/client.ts";
export { authedFetch, getToken } from "./src/one_shot.ts";
export type { GetTokenFunctionOptions } from "./src/one_shot.ts";
export { PropQApiError, PropQAuthError } from "./src/errors.ts";
export type { PropQApiErrorOptions, PropQAuthErrorCode, PropQAuthErrorOptions } from "./src/errors.ts";
export type {
  CacheErrorEvent,
  PropQAuthEvent,
  RefreshFailedEvent,
  RetryEvent,
  TokenEvent,
  UnauthorizedEvent,
} from "./src/events.ts";
export type { ClientOptions, GetTokenOptions, TokenInfo } from "./src/options.ts";
export { MemoryCache } from "./src/memory_cache.ts";
export type { CachedToken, TokenCache } from "./src/token_cache.ts";
export { UnitStatus, updateUnitByName } from "./src/units.ts";
export type { UnitUpdate } from "./src/units.ts";

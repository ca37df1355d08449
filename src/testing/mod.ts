/**
 * Test helpers for code that uses propq-auth: a local PropQ-compatible
 * server, {@linkcode startTestServer}, and the conformance suite every token
 * cache must pass, {@linkcode verifyTokenCache}.
 *
 * @module
 */

export { startTestServer } from "./test_server.ts";
export type { RecordedRequest, ScriptedResponse, TestServer, TestServerOptions } from "./test_server.ts";
export { verifyTokenCache } from "./verify_token_cache.ts";
export type { VerifyTokenCacheOptions } from "./verify_token_cache.ts";
export type { CachedToken, TokenCache } from "../token_cache.ts";

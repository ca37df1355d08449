/**
 * Test helpers for code that uses propq-auth: a local PropQ-compatible
 * server, {@linkcode startTestServer}.
 *
 * @module
 */

export { startTestServer } from "./test_server.ts";
export type { RecordedRequest, ScriptedResponse, TestServer, TestServerOptions } from "./test_server.ts";

import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, MemoryCache } from "@propq/auth";
import { startTestServer, verifyTokenCache } from "@propq/auth/testing";
import { STORAGE_CHECKS } from "./_cache_checks.ts";

test("MemoryCache passes verifyTokenCache (no lock: one process has nothing to share it with)", async () => {
  const cache = new MemoryCache();
  assert.deepEqual(await verifyTokenCache(() => cache), STORAGE_CHECKS);
  assert.equal(cache.size, 0, "the suite leaves nothing behind");
});

test("MemoryCache: two clients sharing one make a single token request", async () => {
  const server = await startTestServer();
  try {
    const cache = new MemoryCache();
    const options = { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl, cache };
    const first = await createClient(options).getToken();
    assert.equal(await createClient({ ...options, refreshWindowSeconds: 1 }).getToken(), first);
    assert.equal(server.tokenRequests, 1);
  } finally {
    await server.close();
  }
});

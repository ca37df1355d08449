import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { authedFetch, type CachedToken, getToken, MemoryCache, type TokenCache } from "@propq/auth";
import { startTestServer, type TestServer } from "@propq/auth/testing";

/** A MemoryCache that counts its reads: a client that holds its token reads it once. */
function countingCache(): TokenCache & { reads: number } {
  const memory = new MemoryCache();
  return {
    reads: 0,
    get(key: string): Promise<CachedToken | undefined> {
      this.reads++;
      return memory.get(key);
    },
    set: (key, token) => memory.set(key, token),
    delete: (key) => memory.delete(key),
  };
}

async function withServer(body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer();
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe("getToken() and authedFetch() with options", () => {
  test("a fresh options literal per call finds the same client, which holds the token", () =>
    withServer(async (server) => {
      const cache = countingCache();
      for (let i = 0; i < 20; i++) {
        await getToken({
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          tokenUrl: server.tokenUrl,
          cache,
        });
      }
      assert.equal(server.tokenRequests, 1);
      assert.equal(cache.reads, 1, "one client: it read the cache once, then held the token");
    }));

  test("authedFetch() with fresh literals reuses the client of getToken() with the same values", () =>
    withServer(async (server) => {
      const cache = countingCache();
      const options = () => ({
        clientId: String(server.clientId),
        clientSecret: server.clientSecret,
        tokenUrl: new URL(server.tokenUrl),
        baseUrl: server.baseUrl,
        cache,
      });
      await getToken(options());
      for (let i = 0; i < 5; i++) await (await authedFetch("/v1/anything", undefined, options())).body?.cancel();
      assert.equal(server.tokenRequests, 1);
      assert.equal(cache.reads, 1);
    }));

  test("another base URL is another client, sharing the token of the same credentials", () =>
    withServer(async (server) => {
      const base = { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl };
      await (await authedFetch("/x", undefined, { ...base, baseUrl: `${server.baseUrl}/a` })).body?.cancel();
      await (await authedFetch("/x", undefined, { ...base, baseUrl: `${server.baseUrl}/b` })).body?.cancel();
      assert.deepEqual(server.requests.filter((r) => r.path !== "/oauth/token").map((r) => r.path), ["/a/x", "/b/x"]);
      assert.equal(server.tokenRequests, 1);
    }));

  test("another secret is another client with a key of its own", () =>
    withServer(async (server) => {
      const cache = countingCache();
      const base = { clientId: server.clientId, tokenUrl: server.tokenUrl, cache };
      await getToken({ ...base, clientSecret: server.clientSecret });
      await assert.rejects(getToken({ ...base, clientSecret: "another-secret" }), { code: "invalid_client" });
      assert.equal(cache.reads, 2);
    }));
});

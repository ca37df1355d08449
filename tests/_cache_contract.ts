// The contract every TokenCache adapter passes: run it from each adapter's test file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, type TokenCache } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";

/** A fresh, empty store; `reopen` gives a second handle on the same storage. */
export interface CacheFixture {
  cache: TokenCache;
  reopen(): Promise<TokenCache>;
  cleanup(): Promise<void>;
}

const HOUR = 3_600_000;

export function testCacheContract(name: string, makeFixture: () => Promise<CacheFixture>): void {
  test(`${name} satisfies the TokenCache contract`, async (t) => {
    const run = (label: string, body: (fixture: CacheFixture) => Promise<void>) =>
      t.test(label, async () => {
        const fixture = await makeFixture();
        try {
          await body(fixture);
        } finally {
          await fixture.cleanup();
        }
      });

    await run("get() of an unknown key is undefined", async ({ cache }) => {
      assert.equal(await cache.get("propq-auth:v1:none"), undefined);
    });

    await run("set() then get() returns the token", async ({ cache }) => {
      const token = { accessToken: "a.b.c", expiresAt: Date.now() + HOUR, issuedAt: Date.now() };
      await cache.set("k", token);
      const read = await cache.get("k");
      assert.equal(read?.accessToken, token.accessToken);
      assert.equal(read?.expiresAt, token.expiresAt);
    });

    await run("set() replaces the token under the same key", async ({ cache }) => {
      await cache.set("k", { accessToken: "old", expiresAt: Date.now() + HOUR });
      await cache.set("k", { accessToken: "new", expiresAt: Date.now() + HOUR });
      assert.equal((await cache.get("k"))?.accessToken, "new");
    });

    await run("keys are independent, whatever characters they hold", async ({ cache }) => {
      const keys = ["propq-auth:v1:https://api.propq.com/oauth/token:42:ab", "k/ü/🔑", "k2"];
      for (const [i, key] of keys.entries()) {
        await cache.set(key, { accessToken: `t${i}`, expiresAt: Date.now() + HOUR });
      }
      for (const [i, key] of keys.entries()) assert.equal((await cache.get(key))?.accessToken, `t${i}`);
    });

    await run("delete() removes only its key", async ({ cache }) => {
      await cache.set("a", { accessToken: "ta", expiresAt: Date.now() + HOUR });
      await cache.set("b", { accessToken: "tb", expiresAt: Date.now() + HOUR });
      await cache.delete("a");
      await cache.delete("never-set");
      assert.equal(await cache.get("a"), undefined);
      assert.equal((await cache.get("b"))?.accessToken, "tb");
    });

    await run("an expired token is not served", async ({ cache }) => {
      await cache.set("k", { accessToken: "gone", expiresAt: Date.now() - 1 });
      assert.equal(await cache.get("k"), undefined);
    });

    await run("a second handle on the same storage sees the token", async ({ cache, reopen }) => {
      await cache.set("k", { accessToken: "shared", expiresAt: Date.now() + HOUR });
      const other = await reopen();
      assert.equal((await other.get("k"))?.accessToken, "shared");
    });

    await run("a client on it fetches once; a client on a second handle fetches none", async ({ cache, reopen }) => {
      const server = await startTestServer();
      try {
        const options = { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl };
        const first = await createClient({ ...options, cache }).getToken();
        const second = await createClient({ ...options, cache: await reopen() }).getToken();
        assert.equal(second, first);
        assert.equal(server.tokenRequests, 1);
      } finally {
        await server.close();
      }
    });
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createClient, type TokenCache } from "@propq/auth";
import { KvCache, type KvLike } from "@propq/auth/kv";
import { startTestServer, type TestServer } from "@propq/auth/testing";
import { cacheKey } from "../src/_cache_key.ts";
import { testCacheContract } from "./_cache_contract.ts";
import { finished, startFixture } from "./_process.ts";
import { kvUnavailable, openTestKv, type TestKv } from "./fixtures/kv_open.ts";

const HOUR = 3_600_000;
const skip = kvUnavailable();
const isDeno = "Deno" in globalThis;
const encoder = new TextEncoder();

/** A temp dir holding one KV file, and every handle opened on it, all closed and removed by `cleanup`. */
async function tempKv() {
  const dir = await mkdtemp(join(tmpdir(), "propq-kv-"));
  const path = join(dir, "kv.sqlite");
  const handles: TestKv[] = [];
  const open = async () => {
    const kv = await openTestKv(path);
    handles.push(kv);
    return kv;
  };
  const kv = await open();
  return {
    path,
    kv,
    open,
    async cleanup() {
      for (const handle of handles) handle.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `body` with a fresh KV file and a local PropQ server, and always cleans both up. */
async function withKv(
  body: (kv: Awaited<ReturnType<typeof tempKv>>, server: TestServer) => Promise<void>,
  serverOptions?: Parameters<typeof startTestServer>[0],
): Promise<void> {
  const store = await tempKv();
  const server = await startTestServer(serverOptions);
  try {
    await body(store, server);
  } finally {
    await server.close();
    await store.cleanup();
  }
}

function clientOn(server: TestServer, cache: TokenCache) {
  return createClient({
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    tokenUrl: server.tokenUrl,
    cache,
    retryDelayMs: 10,
  });
}

function keyOf(server: TestServer): Promise<string> {
  return cacheKey(server.tokenUrl, String(server.clientId), server.clientSecret);
}

function bytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** A KV whose every method throws `error`, counting the calls. */
function failingKv(error: Error): KvLike & { calls: number } {
  const fail = () => {
    kv.calls++;
    return Promise.reject(error);
  };
  const kv = {
    calls: 0,
    get: fail,
    set: fail,
    delete: fail,
    atomic(): never {
      kv.calls++;
      throw error;
    },
  };
  return kv;
}

if (skip === undefined) {
  testCacheContract("KvCache", async () => {
    const store = await tempKv();
    return {
      cache: new KvCache(store.kv),
      reopen: async () => new KvCache(await store.open()),
      cleanup: store.cleanup,
    };
  });
} else {
  test("KvCache satisfies the TokenCache contract", { skip }, () => {});
}

test("new KvCache() refuses what is not a KV handle or a valid option", () => {
  const kv = failingKv(new Error("unused"));
  assert.throws(() => new KvCache({} as KvLike), TypeError);
  assert.throws(() => new KvCache(null as unknown as KvLike), TypeError);
  assert.throws(() => new KvCache(kv, { prefix: "app" as unknown as string[] }), TypeError);
  assert.throws(() => new KvCache(kv, { prefix: [1] as unknown as string[] }), TypeError);
  assert.throws(() => new KvCache(kv, { leaseMs: 0 }), RangeError);
  assert.throws(() => new KvCache(kv, { waitMs: Number.NaN }), RangeError);
  assert.equal(kv.calls, 0, "the constructor touches nothing");
});

test("KvCache stores the token as JSON bytes under its prefix, without the secret", { skip }, async () => {
  await withKv(async ({ kv }, server) => {
    const token = await clientOn(server, new KvCache(kv, { prefix: ["app", "propq"] })).getToken();
    const { value } = await kv.get(["app", "propq", await keyOf(server)]);
    assert.ok(value instanceof Uint8Array);
    const text = new TextDecoder().decode(value);
    assert.deepEqual(Object.keys(JSON.parse(text)).sort(), ["accessToken", "expiresAt", "issuedAt"]);
    assert.equal(JSON.parse(text).accessToken, token);
    assert.ok(!text.includes(server.clientSecret));
    assert.equal((await kv.get(["propq-auth", await keyOf(server)])).versionstamp, null, "no default prefix");
  });
});

test("KvCache.get() does not serve an expired token that KV still holds", { skip }, async () => {
  await withKv(async ({ kv }, server) => {
    // KV removes expired keys lazily: a value written without expireIn stands for one not yet removed.
    const key = await keyOf(server);
    await kv.set(["propq-auth", key], bytes({ accessToken: "stale", expiresAt: Date.now() - 1000 }));
    const cache = new KvCache(kv);
    assert.equal(await cache.get(key), undefined);
    const token = await clientOn(server, cache).getToken();
    assert.notEqual(token, "stale");
    assert.equal(server.tokenRequests, 1);
  });
});

test("KvCache.get() treats a value it cannot read as a miss", { skip }, async (t) => {
  const garbage: Record<string, unknown> = {
    "bytes that are not UTF-8": new Uint8Array([0xff, 0xfe, 0x00]),
    "bytes that are not JSON": encoder.encode("not json"),
    "JSON null": bytes(null),
    "JSON without accessToken": bytes({ expiresAt: Date.now() + HOUR }),
    "JSON with a string expiresAt": bytes({ accessToken: "t", expiresAt: "tomorrow" }),
    "a V8-serialized object": { accessToken: "t", expiresAt: Date.now() + HOUR },
    "a V8-serialized string": "t",
  };
  for (const [label, value] of Object.entries(garbage)) {
    await t.test(label, async () => {
      await withKv(async ({ kv }, server) => {
        const key = await keyOf(server);
        await kv.set(["propq-auth", key], value as Uint8Array);
        const cache = new KvCache(kv);
        assert.equal(await cache.get(key), undefined);
        const token = await clientOn(server, cache).getToken();
        assert.equal(server.tokenRequests, 1);
        assert.equal((await cache.get(key))?.accessToken, token, "the garbage was replaced");
      });
    });
  }
});

test("a KvCache whose KV throws is a miss: getToken() still answers", async () => {
  const server = await startTestServer();
  try {
    const kv = failingKv(new Error("KV unreachable"));
    const cache = new KvCache(kv);
    await assert.rejects(cache.get("k"), /KV unreachable/);
    const client = clientOn(server, cache);
    assert.ok((await client.getToken()).length > 0);
    assert.equal(server.tokenRequests, 1);
  } finally {
    await server.close();
  }
});

test("KvCache retries an operation while the store is locked by another writer", { skip }, async (t) => {
  await t.test("'database is locked' is retried until the store answers", async () => {
    const store = await tempKv();
    try {
      let failures = 2;
      const flaky: KvLike = {
        get: (key) => failures-- > 0 ? Promise.reject(new Error("database is locked")) : store.kv.get(key),
        set: (key, value, options) => store.kv.set(key, value, options),
        delete: (key) => store.kv.delete(key),
        atomic: () => store.kv.atomic(),
      };
      const cache = new KvCache(flaky);
      await cache.set("k", { accessToken: "t", expiresAt: Date.now() + HOUR });
      assert.equal((await cache.get("k"))?.accessToken, "t");
      assert.equal(failures, -1);
    } finally {
      await store.cleanup();
    }
  });

  await t.test("a store that stays locked fails after a bounded wait", async () => {
    const kv = failingKv(new Error("database is locked"));
    const started = Date.now();
    await assert.rejects(new KvCache(kv).get("k"), /database is locked/);
    assert.ok(kv.calls > 1 && kv.calls < 20, `${kv.calls} calls`);
    assert.ok(Date.now() - started < 10_000);
  });

  await t.test("other errors are not retried", async () => {
    const kv = failingKv(new Error("permission denied"));
    await assert.rejects(new KvCache(kv).get("k"), /permission denied/);
    assert.equal(kv.calls, 1);
  });
});

test("KvCache.lock() is one lease per key across handles", { skip }, async (t) => {
  const withStore = async (body: (store: Awaited<ReturnType<typeof tempKv>>) => Promise<void>) => {
    const store = await tempKv();
    try {
      await body(store);
    } finally {
      await store.cleanup();
    }
  };

  await t.test("a second instance waits until the first releases", async () => {
    await withStore(async ({ kv, open }) => {
      const first = new KvCache(kv);
      const second = new KvCache(await open());
      const events: string[] = [];
      const release = await first.lock("k");
      const waiting = second.lock("k").then((releaseSecond) => {
        events.push("second locked");
        return releaseSecond;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      events.push("first releases");
      await release();
      await (await waiting)();
      assert.deepEqual(events, ["first releases", "second locked"]);
    });
  });

  await t.test("different keys do not wait for each other", async () => {
    await withStore(async ({ kv }) => {
      const cache = new KvCache(kv, { waitMs: 60_000 });
      const releaseA = await cache.lock("a");
      const started = Date.now();
      const releaseB = await cache.lock("b");
      assert.ok(Date.now() - started < 5_000);
      await releaseA();
      await releaseB();
    });
  });

  await t.test("a wait is bounded: after waitMs it resolves and its release leaves the holder's lease", async () => {
    await withStore(async ({ kv }) => {
      const holder = new KvCache(kv, { leaseMs: 60_000 });
      const release = await holder.lock("k");
      const started = Date.now();
      const giveUp = await new KvCache(kv, { waitMs: 200 }).lock("k");
      const waited = Date.now() - started;
      assert.ok(waited >= 150 && waited < 10_000, `waited ${waited} ms`);
      await giveUp();
      assert.notEqual((await kv.get(["propq-auth", "lock", "k"])).versionstamp, null, "still held");
      await release();
      assert.equal((await kv.get(["propq-auth", "lock", "k"])).versionstamp, null, "released");
    });
  });

  await t.test("a live holder renews its lease, however long it works", async () => {
    await withStore(async ({ kv }) => {
      const release = await new KvCache(kv, { leaseMs: 300 }).lock("k");
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // three leases long
      const started = Date.now();
      const giveUp = await new KvCache(kv, { waitMs: 300 }).lock("k");
      assert.ok(Date.now() - started >= 250, "the lease was still held, so the waiter waited");
      await giveUp();
      await release();
      assert.equal((await kv.get(["propq-auth", "lock", "k"])).versionstamp, null, "released");
    });
  });

  await t.test("a lease that lapsed (its holder froze) is taken over, and the late release leaves the new one", async () => {
    await withStore(async ({ kv }) => {
      const key = ["propq-auth", "lock", "k"];
      const lateRelease = await new KvCache(kv, { leaseMs: 300 }).lock("k");
      // What a holder that stopped renewing leaves behind: a lease past its expiry.
      await kv.set(key, new TextEncoder().encode(JSON.stringify({ expiresAt: Date.now() - 1 })));
      const started = Date.now();
      const release = await new KvCache(kv, { waitMs: 60_000 }).lock("k");
      assert.ok(Date.now() - started < 10_000);
      const lease = await kv.get(key);
      await lateRelease();
      assert.equal((await kv.get(key)).versionstamp, lease.versionstamp);
      await release();
    });
  });
});

test("KvCache: a crashed process holding the lock blocks the others no longer than its lease", { skip }, async () => {
  await withKv(async ({ kv, path }, server) => {
    const env = { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
    const crashing = startFixture("kv_crash_while_fetching", [path, server.tokenUrl, "1500"], env);
    const exited = finished(crashing, 60_000);
    await new Promise<void>((resolve) => {
      crashing.stdout?.on("data", (chunk: string) => chunk.includes("fetching") && resolve());
      crashing.on("close", () => resolve());
    });
    crashing.kill("SIGKILL");
    const result = await exited;
    assert.equal(result.code, null, `killed while fetching, not exited: ${result.stderr}`);
    const lease = await kv.get(["propq-auth", "lock", await keyOf(server)]);
    assert.notEqual(lease.versionstamp, null, "the dead process left its lease behind");

    const started = Date.now();
    const token = await clientOn(server, new KvCache(kv, { waitMs: 60_000 })).getToken();
    const waited = Date.now() - started;
    assert.ok(token.length > 0);
    assert.ok(waited < 20_000, `waited ${waited} ms for a 1500 ms lease`);
    assert.equal(server.tokenRequests, 1);
  });
});

test("KvCache: 8 processes starting cold on one KV file make one token request", { skip }, async () => {
  await withKv(async ({ path }, server) => {
    const env = { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
    const runs = Array.from(
      { length: 8 },
      () => finished(startFixture("kv_get_token", [path, server.tokenUrl], env), 90_000),
    );
    const results = await Promise.all(runs);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.equal(server.tokenRequests, 1);
    assert.equal(new Set(results.map((result) => JSON.parse(result.stdout).token)).size, 1);
  }, { tokenDelayMs: 300 });
});

// The other runtime reads or writes a token with the raw KV API: `node` with @deno/kv when
// this test runs on Deno, `deno` (from PATH, or DENO_BIN) when it runs on Node.
const PEER = `
const env = (name) => globalThis.Deno ? Deno.env.get(name) : process.env[name];
let kv;
if (globalThis.Deno) {
  kv = await Deno.openKv(env("KV_PEER_PATH"));
} else {
  let kvModule;
  try {
    kvModule = await import("@deno/kv");
  } catch (error) {
    console.error("cannot load @deno/kv: " + error.message);
    process.exit(3);
  }
  kv = await kvModule.openKv(env("KV_PEER_PATH"));
}
const key = JSON.parse(env("KV_PEER_KEY"));
if (env("KV_PEER_WRITE")) {
  await kv.set(key, new TextEncoder().encode(env("KV_PEER_WRITE")), { expireIn: 3600000 });
} else {
  const { value } = await kv.get(key);
  console.log(value instanceof Uint8Array ? new TextDecoder().decode(value) : "not bytes: " + typeof value);
}
kv.close();
`;

interface PeerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  missing?: string;
}

function runPeer(env: Record<string, string>): Promise<PeerResult> {
  const [command, args] = isDeno
    ? ["node", ["--input-type=module", "-e", PEER]]
    : [process.env.DENO_BIN ?? "deno", ["eval", "--unstable-kv", "--quiet", "--ext=js", PEER]];
  const child = spawn(command, args, {
    cwd: dirname(fileURLToPath(import.meta.url)), // where Node finds node_modules/@deno/kv
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve) => {
    child.on(
      "error",
      (error) => resolve({ code: null, stdout: "", stderr: "", missing: `${command}: ${error.message}` }),
    );
    finished(child, 60_000).then((result) =>
      resolve(result.code === 3 ? { ...result, missing: result.stderr.trim() } : result)
    );
  });
}

test(`KvCache: a ${isDeno ? "Deno" : "Node"} process and a ${isDeno ? "Node" : "Deno"} process share one token`, {
  skip,
}, async (t) => {
  await t.test("the other runtime reads the token this one fetched", async (t) => {
    await withKv(async ({ kv, path }, server) => {
      const token = await clientOn(server, new KvCache(kv)).getToken();
      const key = ["propq-auth", await keyOf(server)];
      const peer = await runPeer({ KV_PEER_PATH: path, KV_PEER_KEY: JSON.stringify(key) });
      if (peer.missing !== undefined) return t.skip(`cannot start the other runtime: ${peer.missing}`);
      assert.equal(peer.code, 0, peer.stderr);
      assert.equal(JSON.parse(peer.stdout).accessToken, token);
    });
  });

  await t.test("this runtime serves the token the other one wrote, with no token request", async (t) => {
    await withKv(async ({ kv, path }, server) => {
      const key = ["propq-auth", await keyOf(server)];
      const written = JSON.stringify({ accessToken: "from-the-other-runtime", expiresAt: Date.now() + HOUR });
      const peer = await runPeer({ KV_PEER_PATH: path, KV_PEER_KEY: JSON.stringify(key), KV_PEER_WRITE: written });
      if (peer.missing !== undefined) return t.skip(`cannot start the other runtime: ${peer.missing}`);
      assert.equal(peer.code, 0, peer.stderr);
      assert.equal(await clientOn(server, new KvCache(kv)).getToken(), "from-the-other-runtime");
      assert.equal(server.tokenRequests, 0);
    });
  });
});

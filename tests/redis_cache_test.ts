import { test } from "node:test";
import assert from "node:assert/strict";
import type { PropQAuthEvent } from "@propq/auth";
import { RedisCache, type RedisCommand } from "@propq/auth/redis";
import { startTestServer, type TestServer, verifyTokenCache } from "@propq/auth/testing";
import { cacheKey } from "../src/_cache_key.ts";
import { finished, startFixture } from "./_process.ts";
import { type RedisServer, redisServerMissing, startRedisServer } from "./_redis_server.ts";
import { bunRedis, ioRedis } from "./fixtures/redis_clients.ts";
import { nodeRedis, type RedisConnection } from "./fixtures/redis_connect.ts";
import { ALL_CHECKS } from "./_cache_checks.ts";
import { clientOn } from "./_helpers.ts";

const HOUR = 3_600_000;
const skip = redisServerMissing();
if (skip !== undefined) console.warn(`Skipping the tests that need a real Redis: ${skip}`);
const isBun = "Bun" in globalThis;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

/** Runs `body` with a fresh redis-server and a node-redis connection to it; stops both after. */
async function withRedis(body: (redis: RedisServer, raw: RedisConnection) => Promise<void>): Promise<void> {
  const redis = await startRedisServer();
  let raw: RedisConnection | undefined;
  try {
    raw = await nodeRedis(redis.url);
    await body(redis, raw);
  } finally {
    raw?.destroy();
    await redis.close();
  }
}

function credentials(server: TestServer): Record<string, string> {
  return { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
}

function keyOf(server: TestServer): Promise<string> {
  return cacheKey(server.tokenUrl, String(server.clientId), server.clientSecret);
}

/** Waits until `condition()` holds, 10 s at most. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error("waited 10 s in vain");
    await sleep(20);
  }
}

/** Waits until `command` answers again (a client reconnecting after a Redis restart). */
async function reconnected(command: RedisCommand): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if (await command(["PING"]) === "PONG") return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await sleep(50);
  }
}

test("new RedisCache() refuses a missing command and bad options, naming them, and sends nothing", () => {
  let sent = 0;
  const command: RedisCommand = () => Promise.resolve(sent++);
  assert.throws(() => new RedisCache(undefined as unknown as RedisCommand), { name: "TypeError", message: /command/ });
  assert.throws(() => new RedisCache({} as unknown as RedisCommand), TypeError);
  assert.throws(() => new RedisCache(command, null as never), { name: "TypeError", message: /options/ });
  assert.throws(() => new RedisCache(command, { prefix: 42 as never }), { name: "TypeError", message: /prefix/ });
  for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31, "5" as unknown as number]) {
    assert.throws(() => new RedisCache(command, { leaseMs: bad }), { name: "RangeError", message: /leaseMs/ });
    assert.throws(() => new RedisCache(command, { waitMs: bad }), { name: "RangeError", message: /waitMs/ });
  }
  assert.ok(new RedisCache(command, { prefix: "", leaseMs: 2 ** 31 - 1, waitMs: 1 }));
  assert.equal(sent, 0);
});

test("RedisCache.set() refuses a malformed token with a TypeError, sending nothing", async () => {
  let sent = 0;
  const cache = new RedisCache(() => Promise.resolve(sent++));
  for (
    const token of [{ accessToken: "", expiresAt: Date.now() + HOUR }, { accessToken: "t", expiresAt: Number.NaN }]
  ) {
    await assert.rejects(cache.set("k", token), TypeError);
  }
  assert.equal(sent, 0);
});

test("RedisCache gives every command a time limit: a Redis that never answers cannot hang it", async () => {
  const hanging: RedisCommand = () => new Promise(() => {});
  const cache = new RedisCache(hanging, { leaseMs: 60_000 });
  const started = Date.now();
  const operations = [
    cache.get("k"),
    cache.set("k", { accessToken: "t", expiresAt: Date.now() + HOUR }),
    cache.delete("k"),
    cache.lock("k"),
  ];
  for (const operation of operations) await assert.rejects(operation, { code: "ETIMEDOUT", message: /no answer/ });
  const waited = Date.now() - started;
  assert.ok(waited >= 4_500 && waited < 15_000, `rejected after ${waited} ms`);
});

test("RedisCache rejects what a command function throws, without the token in the error", async () => {
  const token = { accessToken: "secret-looking.token.value", expiresAt: Date.now() + HOUR };
  // Some clients echo the command in their errors (ioredis attaches it as `command.args`).
  const echoing: RedisCommand = (args) =>
    Promise.reject(Object.assign(new Error(`ERR failed ${args.join(" ")}`), { code: "ECONNRESET", command: { args } }));
  await assert.rejects(new RedisCache(echoing).set("k", token), (error: Error & { code?: string }) => {
    assert.equal(error.code, "ECONNRESET");
    assert.match(error.message, /^RedisCache: SET failed: ERR failed SET \[redacted\]/);
    assert.ok(!error.message.includes(token.accessToken), error.message);
    assert.ok(!JSON.stringify(error, Object.getOwnPropertyNames(error)).includes(token.accessToken));
    assert.equal(error.cause, undefined);
    return true;
  });

  const throwing: RedisCommand = () => {
    throw new Error("client not connected");
  };
  await assert.rejects(new RedisCache(throwing).get("k"), /RedisCache: GET failed: client not connected/);
  await assert.rejects(new RedisCache(throwing).lock("k"), /RedisCache: SET failed: client not connected/);
});

test("RedisCache passes verifyTokenCache against a real redis-server", { skip }, async (t) => {
  const bytes = async (url: string): Promise<RedisConnection> => {
    const connection = await nodeRedis(url);
    const encoder = new TextEncoder();
    const command: RedisCommand = async (args) => {
      const reply = await connection.command(args);
      return typeof reply === "string" ? encoder.encode(reply) : reply;
    };
    return { ...connection, name: "node-redis, replies as bytes", command };
  };
  const clients: [string, (url: string) => Promise<RedisConnection | undefined>][] = [
    ["node-redis", nodeRedis],
    ["ioredis", ioRedis],
    ["node-redis with replies as Uint8Array", bytes],
  ];
  if (isBun) clients.push(["Bun's RedisClient", bunRedis]);
  for (const [name, connect] of clients) {
    await t.test(`over ${name}`, async () => {
      await withRedis(async (redis, raw) => {
        const connection = (await connect(redis.url))!;
        const leaseMs = 1_000;
        try {
          const passed = await verifyTokenCache(() => new RedisCache(connection.command, { leaseMs }), {
            // A holder whose connection is cut for good: it can neither renew nor release its lease.
            abandonLock: async (key) => {
              const holder = (await connect(redis.url))!;
              await new RedisCache(holder.command, { leaseMs }).lock(key);
              holder.destroy();
            },
            corrupt: async (key) => void await raw.command(["SET", `propq-auth:${key}`, "{not json"]),
            takeoverMs: leaseMs + 5_000,
          });
          assert.deepEqual(passed, ALL_CHECKS);
        } finally {
          connection.destroy();
        }
      });
    });
  }
});

test("RedisCache stores the token as JSON under its prefix with PX = its remaining life, never the secret", {
  skip,
}, async () => {
  await withRedis(async (_redis, raw) => {
    const server = await startTestServer();
    try {
      const info = await clientOn(server, new RedisCache(raw.command, { prefix: "app:propq:" })).getTokenInfo();
      const key = `app:propq:${await keyOf(server)}`;
      // The client answers before its cache write and lease release finish.
      await until(async () => (await raw.command(["KEYS", "*"]) as string[]).length === 1);
      assert.deepEqual(await raw.command(["KEYS", "*"]), [key], "one key: the token; the lease is gone");
      const text = await raw.command(["GET", key]) as string;
      const value = JSON.parse(text);
      assert.deepEqual(Object.keys(value).sort(), ["accessToken", "expiresAt", "issuedAt"]);
      assert.equal(value.accessToken, info.accessToken);
      assert.equal(value.expiresAt, info.expiresAt);
      const ttl = await raw.command(["PTTL", key]) as number;
      const life = info.expiresAt - Date.now();
      assert.ok(ttl <= life + 50 && ttl > life - 5_000, `PTTL ${ttl} for a remaining life of ${life}`);
      assert.ok(!key.includes(server.clientSecret) && !text.includes(server.clientSecret));
    } finally {
      await server.close();
    }
  });
});

test("RedisCache.get() takes a value that is not a live token for a miss, and a client replaces it", {
  skip,
}, async (t) => {
  const garbage: Record<string, string[]> = {
    "text that is not JSON": ["SET", "KEY", "{not json"],
    "JSON null": ["SET", "KEY", "null"],
    "a JSON string": ["SET", "KEY", '"token"'],
    "JSON without accessToken": ["SET", "KEY", JSON.stringify({ expiresAt: Date.now() + HOUR })],
    "an accessToken with a line break": [
      "SET",
      "KEY",
      JSON.stringify({ accessToken: "a\nb", expiresAt: Date.now() + HOUR }),
    ],
    "a string expiresAt": ["SET", "KEY", JSON.stringify({ accessToken: "t", expiresAt: "tomorrow" })],
    "a token expired by its expiresAt, though Redis still holds it": [
      "SET",
      "KEY",
      JSON.stringify({ accessToken: "stale", expiresAt: Date.now() - 1_000 }),
    ],
    "bytes that are not UTF-8": ["EVAL", "return redis.call('SET', KEYS[1], string.char(255, 254, 0))", "1", "KEY"],
    "a hash, not a string": ["HSET", "KEY", "accessToken", "t"],
  };
  for (const [label, write] of Object.entries(garbage)) {
    await t.test(label, async () => {
      await withRedis(async (_redis, raw) => {
        const server = await startTestServer();
        try {
          const key = await keyOf(server);
          await raw.command(write.map((arg) => arg === "KEY" ? `propq-auth:${key}` : arg));
          const cache = new RedisCache(raw.command);
          if (write[0] === "HSET") {
            await assert.rejects(cache.get(key), /WRONGTYPE/); // Redis refuses the GET: the client counts a miss
          } else {
            assert.equal(await cache.get(key), undefined);
          }
          const token = await clientOn(server, cache).getToken();
          assert.equal(server.tokenRequests, 1);
          assert.equal((await cache.get(key))?.accessToken, token, "the garbage was replaced");
        } finally {
          await server.close();
        }
      });
    });
  }
});

test("RedisCache.lock() is one lease per key across processes", { skip }, async (t) => {
  const lease = "propq-auth:lock:k";

  await t.test("a waiter returns once the holder stores a new token, before the holder releases", async () => {
    await withRedis(async (_redis, raw) => {
      const holder = new RedisCache(raw.command);
      const release = await holder.lock("k");
      const waiting = new RedisCache(raw.command).lock("k");
      assert.equal(await settlesWithin(waiting, 400), false, "no token yet: it waits");
      await holder.set("k", { accessToken: "new", expiresAt: Date.now() + HOUR });
      assert.equal(await settlesWithin(waiting, 2_000), true, "the new token ends the wait");
      await (await waiting)();
      assert.notEqual(await raw.command(["GET", lease]), null, "the waiter's release left the holder's lease");
      await release();
      assert.equal(await raw.command(["GET", lease]), null, "the holder's release removed it");
    });
  });

  await t.test("the token cached when the wait began is not taken for the holder's work (a refresh)", async () => {
    await withRedis(async (_redis, raw) => {
      const holder = new RedisCache(raw.command);
      await holder.set("k", { accessToken: "old", expiresAt: Date.now() + HOUR });
      const release = await holder.lock("k");
      const waiting = new RedisCache(raw.command).lock("k");
      assert.equal(await settlesWithin(waiting, 700), false, "the old token does not end the wait");
      await holder.set("k", { accessToken: "refreshed", expiresAt: Date.now() + HOUR });
      assert.equal(await settlesWithin(waiting, 2_000), true);
      await release();
    });
  });

  await t.test("a live holder renews its lease however long it works; a waiter gives up after waitMs", async () => {
    await withRedis(async (_redis, raw) => {
      const release = await new RedisCache(raw.command, { leaseMs: 300 }).lock("k");
      const owner = await raw.command(["GET", lease]);
      await sleep(1_200); // four leases long
      assert.equal(await raw.command(["GET", lease]), owner, "still the holder's lease");
      assert.ok(await raw.command(["PTTL", lease]) as number > 0);
      const started = Date.now();
      const giveUp = await new RedisCache(raw.command, { waitMs: 300 }).lock("k");
      const waited = Date.now() - started;
      assert.ok(waited >= 250 && waited < 5_000, `waited ${waited} ms`);
      await giveUp();
      assert.equal(await raw.command(["GET", lease]), owner, "the waiter's release left the holder's lease");
      await release();
      assert.equal(await raw.command(["GET", lease]), null);
    });
  });

  await t.test("a holder whose lease lapsed (it froze) cannot touch the next holder's lease", async (t) => {
    // What a holder frozen past its lease finds on waking: its lease gone, and another process holding the key.
    const lapse = async (raw: RedisConnection, leaseMs: number) => {
      const lateRelease = await new RedisCache(raw.command, { leaseMs }).lock("k");
      await raw.command(["DEL", lease]);
      const release = await new RedisCache(raw.command, { leaseMs: 60_000 }).lock("k");
      return { lateRelease, release, owner: await raw.command(["GET", lease]) };
    };
    await t.test("its release, before a renewal noticed, deletes only its own lease: none", async () => {
      await withRedis(async (_redis, raw) => {
        const { lateRelease, release, owner } = await lapse(raw, 60_000);
        await lateRelease();
        assert.equal(await raw.command(["GET", lease]), owner);
        await release();
        assert.equal(await raw.command(["GET", lease]), null);
      });
    });
    await t.test("its renewals renew only its own lease, then stop; its release does nothing", async () => {
      await withRedis(async (_redis, raw) => {
        const { lateRelease, release, owner } = await lapse(raw, 300);
        await sleep(400); // renewals every 100 ms
        assert.ok(await raw.command(["PTTL", lease]) as number > 58_000, "the next holder's lease was not shortened");
        await lateRelease();
        assert.equal(await raw.command(["GET", lease]), owner);
        await release();
      });
    });
  });

  await t.test("a holder whose connection was cut is taken over once its lease expires, on Redis' clock", async () => {
    await withRedis(async (redis, raw) => {
      const cut = await nodeRedis(redis.url);
      await new RedisCache(cut.command, { leaseMs: 1_000 }).lock("k");
      cut.destroy();
      const started = Date.now();
      const release = await new RedisCache(raw.command).lock("k");
      const waited = Date.now() - started;
      assert.ok(waited >= 700 && waited < 6_000, `took over after ${waited} ms for a 1000 ms lease`);
      await release();
    });
  });
});

test("RedisCache's renewal timer never keeps a process alive, and failed renewals are no unhandled rejections", {
  skip,
}, async (t) => {
  for (
    const [label, leaseMs, stayMs] of [["a long lease", "60000", "0"], ["renewals failing for 1.5 s", "300", "1500"]]
  ) {
    await t.test(label, async () => {
      await withRedis(async (redis) => {
        const started = Date.now();
        const result = await finished(startFixture("redis_hold_and_quit", [redis.url, leaseMs, stayMs]), 30_000);
        const took = Date.now() - started;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr, "");
        assert.match(result.stdout, stayMs === "0" ? /^holding\n(done\n)?$/ : /^holding\ndone\n$/);
        assert.ok(took < 20_000, `the process took ${took} ms: something kept it alive`);
      });
    });
  }
});

test("With Redis stopped, RedisCache rejects at once; once Redis is back it works again", { skip }, async (t) => {
  for (const [name, connect] of [["node-redis", nodeRedis], ["ioredis", ioRedis]] as const) {
    await t.test(`over ${name}`, async () => {
      await withRedis(async (redis) => {
        const connection = await connect(redis.url);
        try {
          const cache = new RedisCache(connection.command);
          await cache.set("k", { accessToken: "before", expiresAt: Date.now() + HOUR });
          await redis.stop();
          const operations: [string, () => Promise<unknown>][] = [
            ["get", () => cache.get("k")],
            ["set", () => cache.set("k", { accessToken: "t", expiresAt: Date.now() + HOUR })],
            ["delete", () => cache.delete("k")],
            ["lock", () => cache.lock("k")],
          ];
          for (const [label, operation] of operations) {
            const started = Date.now();
            await assert.rejects(operation(), /RedisCache/, label);
            assert.ok(Date.now() - started < 6_000, `${label} took ${Date.now() - started} ms`);
          }
          await redis.start();
          await reconnected(connection.command);
          assert.equal(await cache.get("k"), undefined, "a restarted Redis is empty");
          await cache.set("k", { accessToken: "after", expiresAt: Date.now() + HOUR });
          assert.equal((await cache.get("k"))?.accessToken, "after");
          await (await cache.lock("k"))();
        } finally {
          connection.destroy();
        }
      });
    });
  }
});

test(
  "getToken() keeps answering while Redis is stopped and restarted, and the cache fills again",
  { skip },
  async () => {
    await withRedis(async (redis, raw) => {
      const server = await startTestServer();
      const key = `propq-auth:${await keyOf(server)}`;
      // A new client on a new RedisCache (so nothing is held in memory: another process, as it were) asks
      // for a token every 50 ms, all through the run.
      const events: PropQAuthEvent[] = [];
      const onEvent = (event: PropQAuthEvent) => events.push(event);
      const fresh = () => clientOn(server, new RedisCache(raw.command), { onEvent }).getToken();
      const failures: unknown[] = [];
      let answers = 0;
      let running = true;
      const traffic = (async () => {
        while (running) {
          await fresh().then(() => answers++, (error) => failures.push(error));
          await sleep(50);
        }
      })();
      try {
        const first = await fresh();
        await until(async () => await raw.command(["GET", key]) !== null);
        const requests = server.tokenRequests;
        await sleep(300);
        assert.equal(server.tokenRequests, requests, "served from Redis");
        assert.equal(await fresh(), first);

        await redis.stop();
        const during = answers;
        const token = await fresh();
        assert.ok(token.length > 0 && token !== first, "a miss: a new token from the endpoint");
        await sleep(500);
        assert.ok(answers > during + 2, "tokens kept flowing while Redis was down");
        const errors = events.filter((event) => event.type === "cache_error");
        assert.ok(errors.some((event) => event.operation === "get" && /RedisCache: GET failed/.test(event.message)));
        assert.ok(errors.some((event) => event.operation === "lock"), "no lock: each went on without one");
        assert.ok(!JSON.stringify(events).includes(token), "events never hold a token");

        await redis.start();
        await reconnected(raw.command);
        await until(async () => await raw.command(["GET", key]) !== null);
        const refilled = JSON.parse(await raw.command(["GET", key]) as string);
        const after = server.tokenRequests;
        await sleep(300);
        assert.equal(server.tokenRequests, after, "served from Redis again: no new token requests");
        assert.equal(await fresh(), refilled.accessToken);
      } finally {
        running = false;
        await traffic;
        await server.close();
      }
      assert.deepEqual(failures, []);
    });
  },
);

test("RedisCache: 8 processes starting cold against one Redis make one token request", { skip }, async () => {
  await withRedis(async (redis) => {
    // A slow endpoint (1500 ms) against a short lease (600 ms): the holder's renewals keep the others waiting.
    const server = await startTestServer({ tokenDelayMs: 1_500 });
    try {
      const args = [redis.url, server.tokenUrl, "600"];
      const runs = Array.from(
        { length: 8 },
        () => finished(startFixture("redis_get_token", args, credentials(server)), 90_000),
      );
      const results = await Promise.all(runs);
      for (const result of results) assert.equal(result.code, 0, result.stderr);
      assert.equal(server.tokenRequests, 1);
      const tokens = results.map((result) => JSON.parse(result.stdout.trim().split("\n").pop()!).token);
      assert.equal(new Set(tokens).size, 1);
      assert.equal(results.filter((result) => result.stdout.includes("fetching")).length, 1);
    } finally {
      await server.close();
    }
  });
});

test("RedisCache: when the lease holder is killed mid-request, another process takes over within leaseMs", {
  skip,
}, async () => {
  await withRedis(async (redis) => {
    const server = await startTestServer();
    server.scriptToken({ delayMs: 120_000, status: 503 }); // the holder's request never gets an answer
    try {
      const leaseMs = 2_000;
      const children = Array.from(
        { length: 4 },
        () => startFixture("redis_get_token", [redis.url, server.tokenUrl, String(leaseMs)], credentials(server)),
      );
      const holder = await new Promise<(typeof children)[number]>((resolve, reject) => {
        for (const child of children) {
          child.stdout?.setEncoding("utf8").on("data", (chunk: string) => chunk.includes("fetching") && resolve(child));
          child.on("close", () => reject(new Error("a process exited before any asked for a token")));
        }
      });
      const results = children.map((child) => finished(child, 90_000));
      await sleep(500); // the others are waiting on its lease by now
      const killed = Date.now();
      holder.kill("SIGKILL");
      const survivors = await Promise.all(results.filter((_, i) => children[i] !== holder));
      const tookOver = Date.now() - killed;
      for (const result of survivors) assert.equal(result.code, 0, result.stderr);
      assert.equal(
        new Set(survivors.map((result) => JSON.parse(result.stdout.trim().split("\n").pop()!).token)).size,
        1,
      );
      assert.equal(server.tokenRequests, 2, "the killed holder's request, and one more");
      // The lease was renewed at most leaseMs / 3 before the kill: nobody may take over sooner than that allows.
      assert.ok(tookOver >= leaseMs * 2 / 3 - 100, `taken over ${tookOver} ms after the kill: the lease was ignored`);
      assert.ok(tookOver < leaseMs + 5_000, `taken over ${tookOver} ms after the kill, for a ${leaseMs} ms lease`);
    } finally {
      await server.close();
    }
  });
});

// The token's life (SPEC §5 "Token lifecycle"): refresh ahead, stale if error, failure cooldown, events, token info.
// Time is an injected clock; the token endpoint is the bundled local server.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createClient, getToken, MemoryCache, PropQAuthError, type PropQAuthEvent } from "@propq/auth";
import { manualClock, rejection, setup, until, withSetup } from "./_helpers.ts";

const HOUR = 3_600_000;

/** Events received, by type. */
function recorder() {
  const events: PropQAuthEvent[] = [];
  return {
    events,
    onEvent: (event: PropQAuthEvent) => void events.push(event),
    of: <T extends PropQAuthEvent["type"]>(type: T) =>
      events.filter((event): event is Extract<PropQAuthEvent, { type: T }> => event.type === type),
  };
}

describe("refresh ahead", () => {
  test("inside the refresh window, callers get the held token at once while ONE refresh runs behind", async () => {
    const clock = manualClock();
    const { server, client } = await setup({ now: clock.now }, { expiresIn: 3600, tokenDelayMs: 300 });
    try {
      const first = await client.getToken();
      clock.advance(HOUR - 200_000); // 200 s left: inside the 300 s window
      const answers = await Promise.all(Array.from({ length: 100 }, () => client.getToken()));
      assert.ok(answers.every((answer) => answer === first), "nobody waited for the endpoint");
      await until(() => server.tokenRequests === 2);
      assert.equal(server.issuedTokens.length, 1, "answered before the refresh came back");
      for (let i = 0; i < 50; i++) assert.equal(await client.getToken(), first);
      assert.equal(server.tokenRequests, 2, "one refresh, not one per call");
    } finally {
      await server.close();
    }
  });

  test("the refreshed token replaces the held one once it arrives", () => {
    const clock = manualClock();
    return withSetup(
      async ({ server, client }) => {
        const first = await client.getToken();
        clock.advance(HOUR - 200_000);
        assert.equal(await client.getToken(), first);
        await until(() => server.issuedTokens.length === 2);
        await until(async () => (await client.getToken()) === server.issuedTokens[1]);
        assert.equal(server.tokenRequests, 2);
      },
      { now: clock.now },
      { expiresIn: 3600 },
    );
  });

  test("three clients with the same options share one background refresh", () => {
    const clock = manualClock();
    return withSetup(
      async ({ server, options }) => {
        const clients = [createClient(options), createClient(options), createClient(options)];
        for (const client of clients) await client.getToken();
        clock.advance(HOUR - 100_000);
        await Promise.all(clients.map((client) => client.getToken()));
        await until(() => server.issuedTokens.length === 2);
        for (const client of clients) await until(async () => (await client.getToken()) === server.issuedTokens[1]);
        assert.equal(server.tokenRequests, 2);
      },
      { now: clock.now },
      { expiresIn: 3600 },
    );
  });

  test("callers wait for the endpoint only when no token has more than minValiditySeconds left", () => {
    const clock = manualClock();
    return withSetup(
      async ({ server, client }) => {
        const first = await client.getToken();
        server.scriptToken({ status: 503 }); // the background refresh fails
        clock.advance(HOUR - 31_000); // 31 s left: still served
        assert.equal(await client.getToken(), first);
        await until(() => server.tokenRequests === 2);
        clock.advance(2_000); // 29 s left: below the 30 s minimum
        const second = await client.getToken();
        assert.notEqual(second, first);
        assert.equal(server.tokenRequests, 3);
      },
      { now: clock.now, maxRetries: 0 },
      { expiresIn: 3600 },
    );
  });

  test("caps: window at half the lifetime, minimum validity at half the window", () => {
    // A 60 s token: window 30 s (not 300), minimum validity 15 s (not 30).
    const clock = manualClock();
    return withSetup(
      async ({ server, client }) => {
        const first = await client.getToken();
        const info = await client.getTokenInfo();
        assert.equal(info.refreshAt, info.expiresAt - 30_000);
        server.scriptToken({ status: 503 }, { status: 503 });
        clock.advance(44_000); // 16 s left: served, refresh behind fails
        assert.equal(await client.getToken(), first);
        await until(() => server.tokenRequests === 2);
        clock.advance(2_000); // 14 s left
        await assert.rejects(client.getToken(), { code: "http_error", status: 503 });
      },
      { now: clock.now, maxRetries: 0 },
      { expiresIn: 60 },
    );
  });
});

describe("stale if error", () => {
  for (
    const [name, fault] of [
      ["503", { status: 503 }],
      ["429", { status: 429 }],
      ["a dropped connection", { destroy: true }],
      ["a timeout", { delayMs: 400 }],
    ] as const
  ) {
    test(`a refresh failing with ${name} keeps the held token in service, retried with backoff, not per call`, () => {
      const clock = manualClock();
      const seen = recorder();
      return withSetup(
        async ({ server, client }) => {
          const first = await client.getToken();
          for (let i = 0; i < 10; i++) server.scriptToken(fault);
          clock.advance(HOUR - 250_000);
          for (let i = 0; i < 20; i++) assert.equal(await client.getToken(), first);
          await until(() => seen.of("refresh_failed").length === 1, 5_000);
          // A runtime may resend a request whose connection dropped: count from here.
          const attempts = server.tokenRequests;
          for (let i = 0; i < 20; i++) assert.equal(await client.getToken(), first);
          assert.equal(server.tokenRequests, attempts, "no new attempt on every call");
          const [failed] = seen.of("refresh_failed");
          assert.equal(failed.expiresAt > clock.now(), true);
          assert.ok(failed.retryAt > clock.now() && failed.retryAt <= clock.now() + 60_000, String(failed.retryAt));
          clock.advance(failed.retryAt - clock.now());
          assert.equal(await client.getToken(), first);
          await until(() => server.tokenRequests > attempts, 5_000);
          await until(() => seen.of("refresh_failed").length === 2, 5_000);
        },
        { now: clock.now, maxRetries: 0, timeoutMs: 200, onEvent: seen.onEvent },
        { expiresIn: 3600 },
      );
    });
  }

  test("getToken fails only when no usable token remains", () => {
    const clock = manualClock();
    return withSetup(
      async ({ server, client }) => {
        await client.getToken();
        for (let i = 0; i < 10; i++) server.scriptToken({ status: 503 });
        clock.advance(HOUR - 29_000);
        const error = await rejection(client.getToken());
        assert.ok(error instanceof PropQAuthError);
        assert.equal(error.status, 503);
      },
      { now: clock.now, maxRetries: 0 },
      { expiresIn: 3600 },
    );
  });
});

describe("failure cooldown", () => {
  test("after a 401 refusal, calls reject at once with the same code, sending nothing", () => {
    const clock = manualClock();
    return withSetup(async ({ server, client }) => {
      const first = await rejection(client.getToken()) as PropQAuthError;
      assert.equal(first.code, "invalid_client");
      for (let i = 0; i < 10; i++) {
        const again = await rejection(client.getToken()) as PropQAuthError;
        assert.equal(again.code, "invalid_client");
        assert.equal(again.status, 401);
        assert.match(again.message, /forceRefresh/);
      }
      assert.equal(server.tokenRequests, 1);
      clock.advance(30_000); // the default cooldown is over
      await assert.rejects(client.getToken(), { code: "invalid_client" });
      assert.equal(server.tokenRequests, 2);
    }, { now: clock.now, clientSecret: "wrong-secret" });
  });

  test("a 400 refusal cools down too, for failureCooldownSeconds", () => {
    const clock = manualClock();
    return withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 400, body: { error: "invalid_request", message: "bad" } });
      await assert.rejects(client.getToken(), { code: "invalid_request" });
      clock.advance(4_000);
      await assert.rejects(client.getToken(), { code: "invalid_request" });
      assert.equal(server.tokenRequests, 1);
      clock.advance(1_000);
      await client.getToken();
      assert.equal(server.tokenRequests, 2);
    }, { now: clock.now, failureCooldownSeconds: 5 });
  });

  test("forceRefresh bypasses it, and another secret is another key", async () => {
    const { server, options } = await setup({ clientSecret: "wrong-secret" });
    try {
      const client = createClient(options);
      await assert.rejects(client.getToken(), { code: "invalid_client" });
      await assert.rejects(client.getToken({ forceRefresh: true }), { code: "invalid_client" });
      assert.equal(server.tokenRequests, 2);
      const right = createClient({ ...options, clientSecret: server.clientSecret });
      assert.ok(await right.getToken());
      assert.equal(server.tokenRequests, 3);
    } finally {
      await server.close();
    }
  });

  test("a 429's Retry-After is honoured: no token request before the time it names", () => {
    const clock = manualClock();
    return withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 429, headers: { "retry-after": "120" } });
      await assert.rejects(client.getToken(), { code: "http_error", status: 429 });
      clock.advance(119_000);
      await assert.rejects(client.getToken(), { code: "http_error", status: 429 });
      assert.equal(server.tokenRequests, 1);
      clock.advance(1_000);
      await client.getToken();
      assert.equal(server.tokenRequests, 2);
    }, { now: clock.now, maxRetries: 0 });
  });
});

describe("onEvent", () => {
  test("token, retry, refresh_failed, cache_error and unauthorized, as plain data without secret or token", () => {
    const clock = manualClock();
    const seen = recorder();
    const failing = new MemoryCache();
    let failGets = 1;
    const cache = {
      get: (key: string) => failGets-- > 0 ? Promise.reject(new Error("store unreachable")) : failing.get(key),
      set: (key: string, token: Parameters<MemoryCache["set"]>[1]) => failing.set(key, token),
      delete: (key: string) => failing.delete(key),
    };
    return withSetup(
      async ({ server, client, options }) => {
        server.scriptToken({ status: 503 }); // one retry before the first token
        await client.getToken();
        server.revokeTokens();
        await (await client.fetch("/v1/anything")).body?.cancel(); // a 401, then a new token
        clock.advance(HOUR - 100_000);
        server.scriptToken({ status: 500 }, { status: 500 });
        await client.getToken();
        await until(() => seen.of("refresh_failed").length === 1);

        assert.deepEqual(seen.of("cache_error").map(({ operation, message }) => ({ operation, message })), [
          { operation: "get", message: "store unreachable" },
        ]);
        const retry = seen.of("retry")[0];
        assert.equal(retry.attempt, 1);
        assert.equal(retry.code, "http_error");
        assert.equal(retry.status, 503);
        assert.equal(typeof retry.delayMs, "number");
        const tokens = seen.of("token");
        assert.equal(tokens.length, 2);
        assert.equal(tokens[0].background, false);
        assert.equal(tokens[0].expiresAt, clock.now() - (HOUR - 100_000) + HOUR);
        assert.ok(tokens[0].durationMs >= 0);
        assert.deepEqual(seen.of("unauthorized").map((e) => e.retried), [true]);
        assert.equal(seen.of("refresh_failed")[0].code, "http_error");
        assert.ok(seen.events.every((event) => event.clientId === String(server.clientId)));

        const text = JSON.stringify(seen.events);
        assert.ok(!text.includes(options.clientSecret!), "no secret");
        for (const token of server.issuedTokens) assert.ok(!text.includes(token), "no token");
        assert.ok(seen.events.every((event) => Object.getPrototypeOf(event) === Object.prototype));
      },
      { now: clock.now, cache, onEvent: seen.onEvent, retryDelayMs: 1, maxRetries: 1 },
      { expiresIn: 3600 },
    );
  });

  test("a handler that throws changes nothing", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 503 });
      const token = await client.getToken();
      assert.equal(token, server.issuedTokens[0]);
    }, {
      retryDelayMs: 1,
      onEvent: () => {
        throw new Error("handler bug");
      },
    }));
});

describe("client.getTokenInfo()", () => {
  test("returns the token with its expiry and refresh time, from the client's clock", () => {
    const clock = manualClock(Date.UTC(2026, 11, 1));
    return withSetup(
      async ({ server, client }) => {
        const info = await client.getTokenInfo();
        assert.deepEqual(info, {
          accessToken: server.issuedTokens[0],
          expiresAt: Date.UTC(2026, 11, 1) + 7200_000,
          refreshAt: Date.UTC(2026, 11, 1) + 7200_000 - 300_000,
        });
        assert.equal(await client.getToken(), info.accessToken);
      },
      { now: clock.now },
      { expiresIn: 7200 },
    );
  });

  test("forceRefresh returns a new token's info", () =>
    withSetup(async ({ server, client }) => {
      await client.getTokenInfo();
      const info = await client.getTokenInfo({ forceRefresh: true });
      assert.equal(info.accessToken, server.issuedTokens[1]);
    }));
});

describe("PROPQ_TOKEN_URL and PROPQ_BASE_URL", () => {
  test("set tokenUrl and baseUrl when the options do not", async () => {
    const { server } = await setup();
    const saved = { ...process.env };
    Object.assign(process.env, {
      PROPQ_CLIENT_ID: String(server.clientId),
      PROPQ_CLIENT_SECRET: server.clientSecret,
      PROPQ_TOKEN_URL: server.tokenUrl,
      PROPQ_BASE_URL: `${server.baseUrl}/prefix`,
    });
    try {
      const client = createClient({ cache: new MemoryCache() });
      await (await client.fetch("/v1/ping")).body?.cancel();
      assert.equal(server.requests.at(-1)?.path, "/prefix/v1/ping");
      assert.equal(await getToken({ cache: new MemoryCache() }), server.issuedTokens[1]);
      // Options win over the environment.
      const other = createClient({
        cache: new MemoryCache(),
        tokenUrl: "http://127.0.0.1:9/oauth/token",
        maxRetries: 0,
      });
      await assert.rejects(other.getToken(), { code: "network_error" });
    } finally {
      for (const name of ["PROPQ_CLIENT_ID", "PROPQ_CLIENT_SECRET", "PROPQ_TOKEN_URL", "PROPQ_BASE_URL"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await server.close();
    }
  });
});

describe("client.settled()", () => {
  test("getToken() does not wait for the cache write; settled() does", () => {
    const memory = new MemoryCache();
    let written = false;
    let finishWrite!: () => void;
    const cache = {
      get: (key: string) => memory.get(key),
      set: (key: string, token: Parameters<MemoryCache["set"]>[1]) =>
        new Promise<void>((resolve) => finishWrite = resolve).then(() => memory.set(key, token)).then(() => {
          written = true;
        }),
      delete: (key: string) => memory.delete(key),
    };
    return withSetup(async ({ client }) => {
      await client.getToken();
      assert.equal(written, false, "answered before the write");
      const settled = client.settled();
      finishWrite();
      await settled;
      assert.equal(written, true);
    }, { cache });
  });

  test("waits for the lock release of a caller that found the token in the cache once it held the lock", async () => {
    let reads = 0;
    let released = false;
    const cached = { accessToken: "from.another.process", expiresAt: Date.now() + HOUR };
    const cache = {
      // A miss first; once the lock is held, the token another process stored meanwhile.
      get: () => Promise.resolve(reads++ === 0 ? undefined : cached),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
      lock: () =>
        Promise.resolve(() => new Promise<void>((resolve) => setTimeout(() => (released = true, resolve()), 50))),
    };
    await withSetup(async ({ server, client }) => {
      assert.equal(await client.getToken(), "from.another.process");
      assert.equal(released, false);
      await client.settled();
      assert.equal(released, true, "a process may close its store now: nothing of the lock is left behind");
      assert.equal(server.tokenRequests, 0);
    }, { cache });
  });

  test("waits for a refresh running ahead", () => {
    const clock = manualClock();
    return withSetup(
      async ({ server, client }) => {
        await client.getToken();
        clock.advance(HOUR - 100_000);
        await client.getToken();
        await client.settled();
        assert.equal(server.issuedTokens.length, 2);
        assert.equal(await client.getToken(), server.issuedTokens[1]);
      },
      { now: clock.now },
      { expiresIn: 3600, tokenDelayMs: 100 },
    );
  });
});

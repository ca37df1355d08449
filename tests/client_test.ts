import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type CachedToken, createClient, getToken, MemoryCache, PropQAuthError, type TokenCache } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";
import { manualClock, rejection, until, withSetup } from "./_helpers.ts";
import { finished } from "./_process.ts";

const HOUR = 3_600_000;

describe("getToken() sends PropQ's token request", () => {
  test("as a form-encoded client_credentials POST with Accept json and no Authorization", () =>
    withSetup(async ({ server, client }) => {
      await client.getToken();
      assert.equal(server.requests.length, 1);
      const [request] = server.requests;
      assert.equal(request.method, "POST");
      assert.equal(request.path, "/oauth/token");
      assert.equal(request.headers["content-type"], "application/x-www-form-urlencoded");
      assert.equal(request.headers.accept, "application/json");
      assert.equal(request.headers.authorization, undefined);
      assert.equal(
        request.body,
        `grant_type=client_credentials&client_id=${server.clientId}&client_secret=${
          encodeURIComponent(server.clientSecret).replace(/%20/g, "+")
        }`,
      );
    }));

  test("with a secret that needs form encoding, byte for byte", () =>
    withSetup(
      async ({ server, client }) => {
        await client.getToken();
        assert.equal(
          server.requests[0].body,
          `grant_type=client_credentials&client_id=42&client_secret=a%2Bb%2Fc%3D+%26%C3%BC`,
        );
      },
      {},
      { clientId: 42, clientSecret: "a+b/c= &ü" },
    ));

  test("accepts the client id as a string of digits, sent in its canonical form", async (t) => {
    for (const clientId of ["42", "042"]) {
      await t.test(clientId, () =>
        withSetup(
          async ({ server, client }) => {
            assert.equal(await client.getToken(), server.issuedTokens[0]);
            assert.match(server.requests[0].body, /&client_id=42&/);
          },
          { clientId },
          { clientId: 42 },
        ));
    }
  });
});

describe("getToken() caches", () => {
  test("reuses the cached token: one request for many calls", () =>
    withSetup(async ({ server, client }) => {
      const first = await client.getToken();
      for (let i = 0; i < 10; i++) assert.equal(await client.getToken(), first);
      assert.equal(server.tokenRequests, 1);
    }));

  test("shares the token with another client built on the same cache", () =>
    withSetup(async ({ server, client, options }) => {
      const token = await client.getToken();
      assert.equal(await createClient(options).getToken(), token);
      assert.equal(server.tokenRequests, 1);
    }));

  test("misses when the secret is rotated, and never puts the secret in a key or the cache", async () => {
    const keys: string[] = [];
    const stored: string[] = [];
    const inner = new MemoryCache();
    const recording: TokenCache = {
      get: (key) => (keys.push(key), inner.get(key)),
      set: (key, token) => (stored.push(JSON.stringify(token)), inner.set(key, token)),
      delete: (key) => inner.delete(key),
    };
    const server = await startTestServer({ clientSecret: "first-secret-value" });
    try {
      const base = { clientId: server.clientId, tokenUrl: server.tokenUrl, cache: recording };
      await createClient({ ...base, clientSecret: "first-secret-value" }).getToken();
      await rejection(createClient({ ...base, clientSecret: "second-secret-value" }).getToken());
      assert.equal(server.tokenRequests, 2, "the rotated secret missed the cache");
      assert.equal(new Set(keys).size, 2);
      for (const text of [...keys, ...stored]) {
        assert.ok(!text.includes("secret-value"), `secret found in ${text}`);
      }
      assert.match(keys[0], new RegExp(`^propq-auth:v1:${server.tokenUrl}:${server.clientId}:[0-9a-f]{32}$`));
    } finally {
      await server.close();
    }
  });

  test("forceRefresh asks for a new token and caches it", () =>
    withSetup(async ({ server, client }) => {
      const first = await client.getToken();
      const second = await client.getToken({ forceRefresh: true });
      assert.notEqual(second, first);
      assert.equal(await client.getToken(), second);
      assert.equal(server.tokenRequests, 2);
    }));

  test("invalidate() drops the token so the next call fetches anew", () =>
    withSetup(async ({ server, client }) => {
      const first = await client.getToken();
      await client.invalidate();
      assert.notEqual(await client.getToken(), first);
      assert.equal(server.tokenRequests, 2);
    }));

  test("a cache that throws is a miss, never a crash", async (t) => {
    const failing: TokenCache = {
      get: () => Promise.reject(new Error("disk on fire")),
      set: () => Promise.reject(new Error("disk on fire")),
      delete: () => Promise.reject(new Error("disk on fire")),
      lock: () => Promise.reject(new Error("disk on fire")),
    };
    await t.test("getToken() answers", () =>
      withSetup(async ({ server, client }) => {
        assert.equal(await client.getToken(), server.issuedTokens[0]);
        await client.invalidate();
      }, { cache: failing }));
    await t.test("a throwing (not rejecting) cache too", () =>
      withSetup(async ({ server, client }) => {
        assert.equal(await client.getToken(), server.issuedTokens[0]);
      }, {
        cache: {
          get: () => {
            throw new Error("sync");
          },
          set: () => {
            throw new Error("sync");
          },
          delete: () => Promise.resolve(),
        },
      }));
  });

  test("a cache whose delete or lock release throws synchronously is still only a miss", async (t) => {
    const throwing = () => {
      throw new Error("sync failure");
    };
    await t.test("delete() after a 401", () =>
      withSetup(async ({ server, client }) => {
        await client.getToken();
        server.revokeTokens();
        const response = await client.fetch("/v1/developments/1/units/update-by-name", {
          method: "POST",
          body: JSON.stringify({ UntName: "A", UntStatus: 1, UntPrice: 1, UntDirections: [] }),
        });
        assert.equal(response.status, 200);
        await response.body?.cancel();
        await client.invalidate();
      }, { cache: Object.assign(new MemoryCache(), { delete: throwing }) }));
    await t.test("the lock's release", () =>
      withSetup(async ({ server, client }) => {
        assert.equal(await client.getToken(), server.issuedTokens[0]);
      }, { cache: Object.assign(new MemoryCache(), { lock: () => Promise.resolve(throwing) }) }));
  });

  test("a cache holding garbage is a miss", async (t) => {
    const garbage = [
      null,
      42,
      "token",
      {},
      { accessToken: "" },
      { accessToken: "x", expiresAt: "soon" },
      {
        accessToken: 7,
        expiresAt: Date.now() + HOUR,
      },
      { accessToken: "x", expiresAt: Number.NaN },
      { accessToken: "a\r\nX-Evil: 1", expiresAt: Date.now() + HOUR },
      {
        accessToken: "tök€n",
        expiresAt: Date.now() + HOUR,
      },
    ];
    for (const value of garbage) {
      await t.test(JSON.stringify(value) ?? String(value), () =>
        withSetup(async ({ server, client }) => {
          assert.equal(await client.getToken(), server.issuedTokens[0]);
          assert.equal(server.tokenRequests, 1);
        }, {
          cache: {
            get: () => Promise.resolve(value as unknown as CachedToken),
            set: () => Promise.resolve(),
            delete: () => Promise.resolve(),
          },
        }));
    }
  });
});

describe("getToken() refreshes ahead of expiry", () => {
  /** [name, token lifetime (s), refreshWindowSeconds, the last moment (ms after issue) the token is still reused]. */
  const windows: [string, number, number | undefined, number][] = [
    ["reuses a cached token until the refresh window (300 s) is reached", 3600, undefined, HOUR - 301_000],
    [
      "caps the window at half the lifetime, so a short-lived token is not refreshed on every call",
      120,
      undefined,
      59_000,
    ],
    ["honours refreshWindowSeconds", 3600, 600, HOUR - 601_000],
  ];
  for (const [name, expiresIn, refreshWindowSeconds, stillReused] of windows) {
    test(name, async () => {
      const clock = manualClock();
      await withSetup(
        async ({ server, client }) => {
          const first = await client.getToken();
          clock.advance(stillReused);
          assert.equal(await client.getToken(), first);
          assert.equal(server.tokenRequests, 1);
          clock.advance(2_000); // now inside the window: served at once, refreshed behind
          assert.equal(await client.getToken(), first);
          await until(() => server.tokenRequests === 2);
          await until(async () => await client.getToken() !== first);
        },
        { now: clock.now, refreshWindowSeconds },
        { expiresIn },
      );
    });
  }

  test("trusts expires_in given as a numeric string", () => {
    const clock = manualClock();
    const spy = spyCache();
    return withSetup(
      async ({ client }) => {
        await client.getToken();
        assert.equal(spy.stored[0].expiresAt - clock.now(), 7_200_000);
      },
      { now: clock.now, cache: spy.cache },
      { expiresIn: "7200" },
    );
  });

  test("without expires_in, uses the JWT exp claim", () => {
    const spy = spyCache();
    return withSetup(
      async ({ server, client }) => {
        await client.getToken();
        const payload = server.issuedTokens[0].split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
        assert.equal(spy.stored[0].expiresAt, JSON.parse(atob(payload)).exp * 1000);
      },
      { cache: spy.cache },
      { expiresIn: null },
    );
  });
});

/** A MemoryCache that records what is stored in it. */
function spyCache(): { cache: TokenCache; stored: CachedToken[] } {
  const inner = new MemoryCache();
  const stored: CachedToken[] = [];
  return {
    stored,
    cache: {
      get: (key) => inner.get(key),
      set: (key, token) => (stored.push(token), inner.set(key, token)),
      delete: (key) => inner.delete(key),
    },
  };
}

describe("getToken() makes one request for concurrent callers", () => {
  test("1000 concurrent callers on a cold cache cause 1 token request", () =>
    withSetup(
      async ({ server, client }) => {
        const tokens = await Promise.all(Array.from({ length: 1000 }, () => client.getToken()));
        assert.equal(new Set(tokens).size, 1);
        assert.equal(server.tokenRequests, 1);
      },
      {},
      { tokenDelayMs: 50 },
    ));

  test("separate clients built with the same options share the request", () =>
    withSetup(
      async ({ server, options }) => {
        const clients = Array.from({ length: 10 }, () => createClient(options));
        await Promise.all(clients.flatMap((client) => [client.getToken(), client.getToken()]));
        assert.equal(server.tokenRequests, 1);
      },
      {},
      { tokenDelayMs: 50 },
    ));

  test("a caller's abort stops only its own wait, never the shared request", () =>
    withSetup(
      async ({ server, client }) => {
        const controller = new AbortController();
        const reason = new Error("caller gave up");
        const aborted = client.getToken({ signal: controller.signal });
        const patient = client.getToken();
        controller.abort(reason);
        assert.equal(await rejection(aborted), reason);
        assert.equal(await patient, server.issuedTokens[0]);
        assert.equal(server.tokenRequests, 1);
      },
      {},
      { tokenDelayMs: 100 },
    ));

  test("an already aborted signal rejects with its reason, even with a cached token", () =>
    withSetup(async ({ client }) => {
      await client.getToken();
      const reason = new Error("stop");
      assert.equal(await rejection(client.getToken({ signal: AbortSignal.abort(reason) })), reason);
    }));
});

describe("createClient() checks its configuration before any traffic", () => {
  const saved = { id: process.env.PROPQ_CLIENT_ID, secret: process.env.PROPQ_CLIENT_SECRET };
  function restoreEnv() {
    for (const [name, value] of [["PROPQ_CLIENT_ID", saved.id], ["PROPQ_CLIENT_SECRET", saved.secret]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }

  function configError(run: () => unknown): PropQAuthError {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof PropQAuthError, String(error));
      assert.equal(error.code, "config");
      return error;
    }
    assert.fail("expected a config error");
  }

  test("a missing client id names PROPQ_CLIENT_ID", () => {
    delete process.env.PROPQ_CLIENT_ID;
    try {
      assert.match(configError(() => createClient({ clientSecret: "s" })).message, /PROPQ_CLIENT_ID/);
    } finally {
      restoreEnv();
    }
  });

  test("a missing secret names PROPQ_CLIENT_SECRET", () => {
    delete process.env.PROPQ_CLIENT_SECRET;
    try {
      assert.match(configError(() => createClient({ clientId: 1 })).message, /PROPQ_CLIENT_SECRET/);
    } finally {
      restoreEnv();
    }
  });

  test("on Deno without --allow-env, the error says the variable could not be read", {
    skip: "Deno" in globalThis ? false : "a Deno permission",
  }, async () => {
    const fixture = fileURLToPath(new URL("./fixtures/config_error.ts", import.meta.url));
    const result = await finished(
      spawn(process.execPath, ["run", "--quiet", "--no-prompt", "--allow-read", fixture], {
        env: { ...process.env, PROPQ_CLIENT_ID: "42", PROPQ_CLIENT_SECRET: "s", NO_COLOR: "1" },
      }),
    );
    assert.match(result.stdout, /^config: Missing client id: .*PROPQ_CLIENT_ID.*--allow-env/, result.stderr);
  });

  test("credentials come from the environment", async () => {
    const server = await startTestServer();
    process.env.PROPQ_CLIENT_ID = String(server.clientId);
    process.env.PROPQ_CLIENT_SECRET = server.clientSecret;
    try {
      assert.equal(await getToken({ tokenUrl: server.tokenUrl, cache: new MemoryCache() }), server.issuedTokens[0]);
    } finally {
      restoreEnv();
      await server.close();
    }
  });

  test("a client id must be a positive integer", async (t) => {
    for (const clientId of ["0", "-1", "4.2", " 42", "42 ", "4e2", "abc", 0, -1, 4.2, Number.NaN, 2 ** 60]) {
      await t.test(JSON.stringify(clientId) ?? String(clientId), () => {
        const error = configError(() => createClient({ clientId, clientSecret: "s" }));
        assert.match(error.message, /client id/);
      });
    }
  });

  test("a secret with surrounding whitespace is refused without echoing it", () => {
    const error = configError(() => createClient({ clientId: 1, clientSecret: " hunter2\n" }));
    assert.match(error.message, /whitespace/);
    assert.ok(!error.message.includes("hunter2"));
  });

  test("malformed options are config errors", async (t) => {
    const cases = {
      "tokenUrl not a URL": { tokenUrl: "not a url" },
      "baseUrl not http(s)": { baseUrl: "ftp://api.propq.com" },
      "negative timeoutMs": { timeoutMs: -1 },
      "zero timeoutMs": { timeoutMs: 0 },
      "a timeoutMs past what a timer can wait": { timeoutMs: 3e9 },
      "fractional maxRetries": { maxRetries: 1.5 },
      "infinite refreshWindowSeconds": { refreshWindowSeconds: Infinity },
      "a cache without get": { cache: {} as TokenCache },
    };
    for (const [name, options] of Object.entries(cases)) {
      await t.test(name, () => void configError(() => createClient({ clientId: 1, clientSecret: "s", ...options })));
    }
  });

  test("getToken() turns config errors into rejections and sends nothing", async () => {
    const server = await startTestServer();
    try {
      const error = await rejection(getToken({ clientId: "x", clientSecret: "s", tokenUrl: server.tokenUrl }));
      assert.ok(error instanceof PropQAuthError && error.code === "config");
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });
});

describe("createClient({ fetch })", () => {
  test("calls the transport bare, as workerd's fetch requires (no `this`)", () =>
    withSetup(async ({ server, options }) => {
      const strictFetch = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
        if (this !== undefined && this !== globalThis) throw new TypeError("Illegal invocation");
        return fetch(input, init);
      };
      const client = createClient({ ...options, cache: new MemoryCache(), fetch: strictFetch as typeof fetch });
      await client.getToken();
      const response = await client.fetch("/v1/developments/1/units/update-by-name", {
        method: "POST",
        body: JSON.stringify({ UntName: "A", UntStatus: 1, UntPrice: 1, UntDirections: [] }),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(server.tokenRequests, 1);
    }));
});

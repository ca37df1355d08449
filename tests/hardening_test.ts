// Faults, hostile answers and misconfiguration (SPEC §5 "Hardening"): each test injects the fault for real.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  createClient,
  MemoryCache,
  PropQApiError,
  PropQAuthError,
  type PropQAuthEvent,
  type TokenCache,
} from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";
import { cacheKey } from "../src/_cache_key.ts";
import { manualClock, rejection, setup, withSetup } from "./_helpers.ts";
import { finished } from "./_process.ts";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const never = () => new Promise<never>(() => {});

describe("a hung cache", () => {
  test("a get() that never resolves counts as a miss after cacheTimeoutMs; the key recovers", () => {
    const events: PropQAuthEvent[] = [];
    const memory = new MemoryCache();
    let hang = true;
    const cache: TokenCache = {
      get: (key) => hang ? never() : memory.get(key),
      set: (key, token) => memory.set(key, token),
      delete: (key) => memory.delete(key),
    };
    return withSetup(async ({ server, client, options }) => {
      const started = performance.now();
      const token = await client.getToken();
      const took = performance.now() - started;
      assert.equal(token, server.issuedTokens[0]);
      assert.ok(took < 5_000, `answered after ${took} ms`);
      assert.deepEqual(events.flatMap((e) => e.type === "cache_error" ? [[e.operation, e.message]] : []), [
        ["get", "timed out after 50 ms"],
      ]);
      hang = false;
      assert.equal(await createClient({ ...options, onEvent: undefined }).getToken(), token, "the cache works again");
      assert.equal(server.tokenRequests, 1);
    }, { cache, cacheTimeoutMs: 50, onEvent: (event) => void events.push(event) });
  });

  test("a set() or delete() that hangs never holds a caller", () =>
    withSetup(async ({ server, client }) => {
      assert.equal(await client.getToken(), server.issuedTokens[0]);
      await client.invalidate();
      assert.equal(await client.getToken(), server.issuedTokens[1]);
    }, {
      cacheTimeoutMs: 50,
      cache: { get: () => Promise.resolve(undefined), set: never, delete: never },
    }));

  test("a lock() that never resolves is given up after the worst case of a token request", () =>
    withSetup(async ({ server, client }) => {
      assert.equal(await client.getToken(), server.issuedTokens[0]);
    }, {
      cacheTimeoutMs: 50,
      timeoutMs: 100,
      maxRetries: 0,
      cache: { get: () => Promise.resolve(undefined), set: () => Promise.resolve(), delete: never, lock: never },
    }));

  test("a late lock grant is released at once, so it never blocks another process", async () => {
    let released = 0;
    let grant!: (release: () => Promise<void>) => void;
    const cache: TokenCache = {
      get: () => Promise.resolve(undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
      lock: () => new Promise((resolve) => grant = resolve),
    };
    await withSetup(async ({ client }) => {
      await client.getToken();
      grant(() => Promise.resolve(void released++));
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(released, 1);
    }, { cache, cacheTimeoutMs: 20, timeoutMs: 20, maxRetries: 0 });
  });

  test("a transport that ignores the abort signal still ends in a timeout", () =>
    withSetup(async ({ server }) => {
      const client = createClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        tokenUrl: server.tokenUrl,
        cache: new MemoryCache(),
        timeoutMs: 50,
        maxRetries: 0,
        fetch: never,
      });
      await assert.rejects(client.getToken(), { code: "timeout" });
    }));
});

describe("a huge token answer", () => {
  /** A token endpoint that streams `size` bytes (with or without a Content-Length) and counts what it sent. */
  async function hugeEndpoint(size: number, declare: boolean) {
    let sent = 0;
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, {
        "content-type": "application/json",
        ...(declare ? { "content-length": String(size) } : {}),
      });
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      const pump = () => {
        while (sent < size && !res.destroyed) {
          sent += chunk.byteLength;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("close", () => res.destroy());
      pump();
    });
    const url = await listen(server);
    return { url, server, sent: () => sent, requests: () => requests };
  }

  for (const [name, size, declare] of [["200 MB, chunked", 200e6, false], ["600 MB, declared", 600e6, true]] as const) {
    test(`${name}: read up to 64 KiB, then invalid_response, not retried`, async () => {
      const endpoint = await hugeEndpoint(size, declare);
      try {
        const client = createClient({
          clientId: 1,
          clientSecret: "s",
          tokenUrl: `${endpoint.url}/oauth/token`,
          cache: new MemoryCache(),
          retryDelayMs: 1,
        });
        const error = await rejection(client.getToken());
        assert.ok(error instanceof PropQAuthError);
        assert.equal(error.code, "invalid_response");
        assert.match(error.message, /larger than 65536 bytes/);
        assert.equal(endpoint.requests(), 1);
        assert.ok(endpoint.sent() < 64e6, `the server got to send ${endpoint.sent()} bytes`);
      } finally {
        await close(endpoint.server);
      }
    });
  }
});

describe("errors never hold the secret, and name what failed", () => {
  const secret = "Sup3r$ecret/with+chars=&";

  test("a transport error quoting the request body: the cause is rebuilt, inspect() shows no secret", async () => {
    const body = new URLSearchParams({ client_secret: secret }).toString();
    const fetch = () =>
      Promise.reject(
        new TypeError("fetch failed", {
          cause: Object.assign(new Error(`connect ECONNRESET while sending ${body}`), { code: "ECONNRESET" }),
        }),
      );
    const client = createClient({ clientId: 1, clientSecret: secret, cache: new MemoryCache(), fetch, maxRetries: 0 });
    const error = await rejection(client.getToken()) as PropQAuthError;
    assert.equal(error.code, "network_error");
    for (const text of [inspect(error, { depth: 10 }), error.message, String(error.cause), JSON.stringify(error)]) {
      assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), text);
    }
    assert.match(error.message, /ECONNRESET/);
    assert.equal((error.cause as { code?: string }).code, "ECONNRESET");
  });

  test("a network error names the innermost cause and the URL", async () => {
    const fetch = () =>
      Promise.reject(
        new TypeError("fetch failed", {
          cause: Object.assign(new Error("getaddrinfo ENOTFOUND api.propq.invalid"), { code: "ENOTFOUND" }),
        }),
      );
    const tokenUrl = "https://api.propq.invalid/oauth/token";
    const client = createClient({
      clientId: 1,
      clientSecret: "s",
      tokenUrl,
      cache: new MemoryCache(),
      fetch,
      maxRetries: 0,
    });
    const error = await rejection(client.getToken()) as PropQAuthError;
    assert.match(error.message, /ENOTFOUND/);
    assert.ok(error.message.includes(tokenUrl), error.message);
  });

  test("a refused connection, for real, names the URL and the refusal", async () => {
    const probe = createServer();
    const url = await listen(probe);
    await close(probe); // the port is now closed
    const tokenUrl = `${url}/oauth/token`;
    const clientSecret = "a-long-enough-secret";
    const client = createClient({ clientId: 1, clientSecret, tokenUrl, cache: new MemoryCache(), maxRetries: 0 });
    const error = await rejection(client.getToken()) as PropQAuthError;
    assert.equal(error.code, "network_error");
    assert.ok(error.message.includes(tokenUrl), error.message);
    assert.match(error.message, /ECONNREFUSED|refused/i);
  });

  test("echoes of the secret in any form are withheld, not quoted", async (t) => {
    const forms: [string, string][] = [
      ["as it is", secret],
      ["percent-encoded", encodeURIComponent(secret)],
      ["lowercase percent-encoding", encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
      ["encodeURI", encodeURI(secret)],
      ["form-encoded", new URLSearchParams({ s: secret }).toString().slice(2)],
      ["HTML-escaped", secret.replace(/&/g, "&amp;").replace(/\//g, "&#x2F;")],
      ["base64", btoa(secret)],
      ["base64 inside a larger blob", btoa(`client_secret=${secret}&x=1`)],
      ["base64url", btoa(secret).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")],
      ["JSON-escaped", JSON.stringify(secret).slice(1, -1).replace(/\//g, "\\/")],
    ];
    for (const [name, echo] of forms) {
      await t.test(name, () =>
        withSetup(async ({ server, client }) => {
          server.scriptToken({ status: 400, body: { error: "invalid_request", message: `got ${echo}`, hint: echo } });
          const error = await rejection(client.getToken()) as PropQAuthError;
          assert.equal(error.description, undefined);
          assert.equal(error.hint, undefined);
          assert.ok(!error.message.includes(echo), error.message);
          assert.equal(error.message, "Cannot obtain token: server responded 400 invalid_request");
        }, { clientSecret: secret }));
    }
  });

  test("a one-character secret does not blank that letter in messages", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 400, body: { error: "invalid_request", message: "Bad client data" } });
      const error = await rejection(client.getToken()) as PropQAuthError;
      assert.ok(!error.message.includes("[redacted]"));
      assert.ok(error.message.startsWith("Cannot obtain token: server responded 400 invalid_request"));
    }, { clientSecret: "a" }));

  test("control characters in server text cannot forge log lines", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({
        status: 400,
        body: { error: "invalid_request", message: "bad\nFAKE LOG LINE\r\u001b[31m" },
      });
      const error = await rejection(client.getToken()) as PropQAuthError;
      assert.ok(!["\n", "\r", "\u001b"].some((c) => error.message.includes(c)), JSON.stringify(error.message));
    }));
});

describe("runtime permissions", () => {
  test("Deno without --allow-net: a config error naming the flag, not retried", {
    skip: "Deno" in globalThis ? false : "a Deno permission",
  }, async () => {
    const server = await startTestServer();
    try {
      const fixture = fileURLToPath(new URL("./fixtures/net_denied.ts", import.meta.url));
      const result = await finished(
        spawn(process.execPath, [
          "run",
          "--quiet",
          "--no-prompt",
          "--allow-read",
          "--allow-env",
          fixture,
          server.tokenUrl,
        ], {
          env: { ...process.env, NO_COLOR: "1" },
        }),
      );
      const outcome = JSON.parse(result.stdout || "{}");
      const host = new URL(server.tokenUrl).host;
      assert.equal(outcome.code, "config", result.stderr);
      assert.ok(outcome.message.includes(`--allow-net=${host}`), outcome.message);
      assert.equal(outcome.retries, 0);
      assert.equal(server.tokenRequests, 0);
    } finally {
      await server.close();
    }
  });
});

describe("server text cannot pass for the library's own codes", () => {
  for (const code of ["timeout", "config", "network_error", "http_error", "invalid_response", "foreign_origin"]) {
    test(`a 400 with {"error":"${code}"} is an http_error whose oauthError is "${code}"`, () =>
      withSetup(async ({ server, client }) => {
        server.scriptToken({ status: 400, body: { error: code } });
        const error = await rejection(client.getToken()) as PropQAuthError;
        assert.equal(error.code, "http_error");
        assert.equal(error.oauthError, code);
        assert.equal(error.status, 400);
      }));
  }

  test("any other OAuth error stays the code, and is oauthError too", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 400, body: { error: "unsupported_grant_type" } });
      const error = await rejection(client.getToken()) as PropQAuthError;
      assert.equal(error.code, "unsupported_grant_type");
      assert.equal(error.oauthError, "unsupported_grant_type");
    }));
});

describe("a 401 storm", () => {
  test("an API that answers 401 to every call costs one token request per 30 s, not one per call", async () => {
    const tokens = await startTestServer();
    const api = createServer((_req, res) => void res.writeHead(401).end('{"message":"Unauthenticated."}'));
    const baseUrl = await listen(api);
    const clock = manualClock();
    try {
      const client = createClient({
        clientId: tokens.clientId,
        clientSecret: tokens.clientSecret,
        tokenUrl: tokens.tokenUrl,
        baseUrl,
        cache: new MemoryCache(),
        now: clock.now,
      });
      for (let i = 0; i < 20; i++) {
        const response = await client.fetch("/v1/developments");
        assert.equal(response.status, 401);
        await response.body?.cancel();
      }
      assert.equal(tokens.tokenRequests, 2, "the first token, and one replacement");
      clock.advance(30_000);
      await (await client.fetch("/v1/developments")).body?.cancel();
      assert.equal(tokens.tokenRequests, 3, "30 s later, one more replacement");
    } finally {
      await close(api);
      await tokens.close();
    }
  });
});

describe("URLs that would leak credentials", () => {
  const configError = (options: Record<string, unknown>) => {
    try {
      createClient({ clientId: 1, clientSecret: "s", ...options });
    } catch (error) {
      assert.ok(error instanceof PropQAuthError);
      assert.equal(error.code, "config");
      return error.message;
    }
    assert.fail("expected a config error");
  };

  test("a user name or password in baseUrl or tokenUrl is refused", () => {
    assert.match(configError({ baseUrl: "https://user:pass@api.propq.com" }), /baseUrl.*user name or password/);
    assert.match(configError({ tokenUrl: "https://user@api.propq.com/oauth/token" }), /tokenUrl/);
  });

  test("http is refused unless the host is loopback", () => {
    assert.match(configError({ baseUrl: "http://api.propq.com" }), /use https/);
    assert.match(configError({ tokenUrl: "http://10.0.0.1/oauth/token" }), /use https/);
    for (const host of ["127.0.0.1:8080", "localhost", "[::1]:3000", "127.1.2.3"]) {
      createClient({ clientId: 1, clientSecret: "s", baseUrl: `http://${host}`, tokenUrl: `http://${host}/t` });
    }
  });
});

describe("limits on what the client believes", () => {
  test("a lifetime beyond 400 days is capped to 400 days", async (t) => {
    for (
      const [name, answer] of [["expires_in: 1e20", { expires_in: 1e20 }], ["no expires_in, JWT exp 1e300", {}]] as [
        string,
        Record<string, unknown>,
      ][]
    ) {
      await t.test(name, async () => {
        const clock = manualClock(Date.UTC(2026, 11, 1));
        const payload = btoa(JSON.stringify({ exp: 1e300 })).replace(/=+$/, "");
        const fetch = () =>
          Promise.resolve(Response.json({ token_type: "Bearer", access_token: `h.${payload}.s`, ...answer }));
        const client = createClient({
          clientId: 1,
          clientSecret: "s",
          cache: new MemoryCache(),
          fetch,
          now: clock.now,
        });
        const info = await client.getTokenInfo();
        assert.equal(info.expiresAt, clock.now() + 400 * 86_400_000);
      });
    }
  });

  test("a cached token claiming more than 400 days is served as if it had 400", async () => {
    const clock = manualClock(Date.UTC(2026, 11, 1));
    const cache = new MemoryCache();
    const { server, options } = await setup({ cache, now: clock.now });
    try {
      const key = await cacheKey(server.tokenUrl, String(server.clientId), server.clientSecret);
      await cache.set(key, { accessToken: "long.lived.token", expiresAt: 1e15 });
      const info = await createClient(options).getTokenInfo();
      assert.equal(info.accessToken, "long.lived.token");
      assert.equal(info.expiresAt, clock.now() + 400 * 86_400_000);
    } finally {
      await server.close();
    }
  });

  test("a very long token URL makes a key of bounded length", async () => {
    const key = await cacheKey(`https://api.propq.com/oauth/token?${"x".repeat(3000)}`, "42", "secret");
    assert.ok(key.length < 200, `key of ${key.length} characters`);
    assert.notEqual(key, await cacheKey(`https://api.propq.com/oauth/token?${"x".repeat(3001)}`, "42", "secret"));
  });

  test("MemoryCache drops expired tokens of keys nobody reads again", async () => {
    const cache = new MemoryCache();
    for (let i = 0; i < 1000; i++) await cache.set(`tenant-${i}`, { accessToken: "t", expiresAt: Date.now() - 1 });
    await cache.set("live", { accessToken: "t", expiresAt: Date.now() + 60_000 });
    assert.equal(cache.size, 1);
  });

  test("options of the wrong type are config errors, never a late TypeError", async (t) => {
    const cases: Record<string, unknown> = {
      now: 123,
      onEvent: "log",
      fetch: {},
      minValiditySeconds: -1,
      failureCooldownSeconds: Number.NaN,
      cacheTimeoutMs: 0,
    };
    for (const [name, value] of Object.entries(cases)) {
      await t.test(name, () => {
        assert.throws(
          () => createClient({ clientId: 1, clientSecret: "s", [name]: value }),
          (error) => error instanceof PropQAuthError && error.code === "config" && error.message.includes(name),
        );
      });
    }
  });
});

describe("errors read well", () => {
  test("unset fields stay unset: no `hint: undefined` in inspect() or JSON", () =>
    withSetup(async ({ client }) => {
      const error = await rejection(client.getToken()) as PropQAuthError;
      assert.ok(!inspect(error).includes("undefined"), inspect(error));
      assert.deepEqual(Object.keys(error).sort(), ["code", "description", "oauthError", "status"]);
      const api = new PropQApiError("x", { status: 500, response: new Response(null, { status: 500 }) });
      assert.deepEqual(Object.keys(api), ["status"]);
    }, { clientSecret: "wrong-secret" }));

  // On Node the same check runs against the package's ES module and CommonJS builds (tests/npm/).
  test("instanceof holds for an error from another copy of the module", {
    skip: import.meta.url.endsWith(".ts") ? false : "sources only",
  }, async () => {
    const copy = await import(`../src/errors.ts?copy=${Date.now()}`);
    assert.notEqual(copy.PropQAuthError, PropQAuthError, "a second copy of the class");
    const theirs = new copy.PropQAuthError("x", { code: "timeout" });
    assert.ok(theirs instanceof PropQAuthError);
    assert.ok(new PropQAuthError("y", { code: "timeout" }) instanceof copy.PropQAuthError);
    assert.ok(new copy.PropQApiError("z", { status: 400, response: new Response() }) instanceof PropQApiError);
    assert.ok(!(theirs instanceof PropQApiError));
    assert.ok(!({ code: "timeout" } instanceof PropQAuthError));
  });
});

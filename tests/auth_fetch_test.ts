import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { authedFetch, createClient, MemoryCache, PropQAuthError } from "@propq/auth";
import { startTestServer, type TestServer } from "@propq/auth/testing";
import { rejection, type Setup, withSetup } from "./_helpers.ts";

const UPDATE = "/v1/developments/7/units/update-by-name";
const UNIT = { UntName: "A-1", UntStatus: 1, UntPrice: 100, UntDirections: ["N"] };
const body = JSON.stringify(UNIT);

/** A second server on another port: the foreign origin and redirect target. */
async function withForeign(run: (setup: Setup, foreign: TestServer) => Promise<void>): Promise<void> {
  const foreign = await startTestServer();
  try {
    await withSetup((setup) => run(setup, foreign));
  } finally {
    await foreign.close();
  }
}

function sentTo(server: TestServer, path: string) {
  return server.requests.filter((request) => request.path === path).at(-1)!;
}

function lastApiRequest(server: TestServer) {
  return server.requests.filter((request) => request.path !== "/oauth/token").at(-1)!;
}

describe("client.fetch() adds PropQ's headers", () => {
  test("Authorization: Bearer, Content-Type and Accept json on a string body", () =>
    withSetup(async ({ server, client }) => {
      const response = await client.fetch(UPDATE, { method: "POST", body });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      const sent = lastApiRequest(server);
      assert.equal(sent.headers.authorization, `Bearer ${server.issuedTokens[0]}`);
      assert.equal(sent.headers["content-type"], "application/json");
      assert.equal(sent.headers.accept, "application/json");
      assert.equal(sent.body, body);
    }));

  test("Content-Type json on a request without a body too (PropQ wants it on every call)", () =>
    withSetup(async ({ server, client }) => {
      await (await client.fetch("/v1/anything")).body?.cancel();
      assert.equal(lastApiRequest(server).headers["content-type"], "application/json");
    }));

  test("keeps the caller's own Content-Type and Accept", () =>
    withSetup(async ({ server, client }) => {
      const headers = { "content-type": "application/json; charset=utf-8", accept: "text/csv" };
      await (await client.fetch(UPDATE, { method: "POST", body, headers })).body?.cancel();
      const sent = lastApiRequest(server);
      assert.equal(sent.headers["content-type"], "application/json; charset=utf-8");
      assert.equal(sent.headers.accept, "text/csv");
    }));

  test("keeps the Content-Type fetch infers for FormData and URLSearchParams", () =>
    withSetup(async ({ server, client }) => {
      const form = new FormData();
      form.set("a", "1");
      await (await client.fetch("/v1/upload", { method: "POST", body: form })).body?.cancel();
      assert.match(sentTo(server, "/v1/upload").headers["content-type"], /^multipart\/form-data; boundary=/);
      await (await client.fetch("/v1/form", { method: "POST", body: new URLSearchParams({ a: "1" }) })).body?.cancel();
      assert.match(sentTo(server, "/v1/form").headers["content-type"], /^application\/x-www-form-urlencoded/);
    }));

  test("accepts a string path, an absolute URL on the API's origin, a URL object and a Request", () =>
    withSetup(async ({ server, client }) => {
      const inputs = [
        UPDATE,
        `${server.baseUrl}${UPDATE}`,
        new URL(UPDATE, server.baseUrl),
        new Request(`${server.baseUrl}${UPDATE}`, { method: "POST", body }),
      ];
      for (const input of inputs) {
        const response = await client.fetch(input, input instanceof Request ? undefined : { method: "POST", body });
        assert.equal(response.status, 200, String(input));
        await response.body?.cancel();
        const sent = lastApiRequest(server);
        assert.equal(sent.path, UPDATE);
        assert.equal(sent.body, body);
        assert.equal(sent.headers["content-type"], "application/json", "a Request's inferred text/plain is replaced");
      }
    }));

  test("a baseUrl with a path is a prefix: paths go after it, relative or absolute", async () => {
    const server = await startTestServer();
    try {
      const client = createClient({
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        tokenUrl: server.tokenUrl,
        baseUrl: `${server.baseUrl}/api/`,
        cache: new MemoryCache(),
      });
      await (await client.fetch("v1/developments")).body?.cancel();
      assert.equal(lastApiRequest(server).path, "/api/v1/developments");
      await (await client.fetch("/v1/root")).body?.cancel();
      assert.equal(lastApiRequest(server).path, "/api/v1/root");
      await (await client.fetch("/v1/odd path")).body?.cancel();
      assert.equal(lastApiRequest(server).path, "/api/v1/odd%20path");
    } finally {
      await server.close();
    }
  });

  test("a per-call AbortSignal cancels the call", () =>
    withSetup(async ({ server, client }) => {
      await client.getToken();
      server.scriptApi({ delayMs: 2_000 });
      const reason = new Error("user left");
      const controller = new AbortController();
      const call = client.fetch(UPDATE, { method: "POST", body, signal: controller.signal });
      setTimeout(() => controller.abort(reason), 50);
      assert.equal(await rejection(call), reason);
    }));
});

describe("client.fetch() keeps the token on the API's origin", () => {
  test("refuses an absolute URL on another origin before any traffic", () =>
    withForeign(async ({ server, client }, foreign) => {
      const error = await rejection(client.fetch(`${foreign.baseUrl}${UPDATE}`, { method: "POST", body }));
      assert.ok(error instanceof PropQAuthError);
      assert.equal(error.code, "foreign_origin");
      assert.equal(foreign.requests.length, 0);
      assert.equal(server.requests.length, 0, "not even a token request");
    }));

  test("refuses paths that a URL parser reads as another host (//host, /\\host)", () =>
    withForeign(async ({ client }, foreign) => {
      const host = new URL(foreign.baseUrl).host;
      for (const path of [`//${host}/v1`, `/\\${host}/v1`, `\t//${host}/v1`]) {
        const error = await rejection(client.fetch(path));
        assert.ok(
          error instanceof PropQAuthError && error.code === "foreign_origin",
          `${JSON.stringify(path)}: ${error}`,
        );
      }
      assert.equal(foreign.requests.length, 0);
    }));

  test("a caller's own Authorization header never replaces the token", () =>
    withSetup(async ({ server, client }) => {
      for (const headers of [{ Authorization: "Bearer mine" }, new Headers({ authorization: "Basic x" })]) {
        await (await client.fetch(UPDATE, { method: "POST", body, headers })).body?.cancel();
        assert.equal(lastApiRequest(server).headers.authorization, `Bearer ${server.issuedTokens[0]}`);
      }
    }));

  test("does not follow a redirect to another origin and returns the 3xx", () =>
    withForeign(async ({ server, client }, foreign) => {
      for (const status of [301, 302, 303, 307, 308]) {
        server.scriptApi({ status, headers: { location: `${foreign.baseUrl}/steal` } });
        const response = await client.fetch(UPDATE, { method: "POST", body });
        assert.equal(response.status, status);
        assert.equal(response.headers.get("location"), `${foreign.baseUrl}/steal`);
      }
      assert.equal(foreign.requests.length, 0, "the foreign origin received nothing, so no Authorization");
    }));

  test("follows a same-origin redirect with the token", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({ status: 307, headers: { location: "/v1/developments/8/units/update-by-name" } });
      const response = await client.fetch(UPDATE, { method: "POST", body });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).development_id, "8");
      const sent = lastApiRequest(server);
      assert.equal(sent.method, "POST");
      assert.equal(sent.body, body, "307 keeps method and body");
      assert.equal(sent.headers.authorization, `Bearer ${server.issuedTokens[0]}`);
    }));

  test("a 303 (or a 302 after POST) turns into a GET without body, as fetch does", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({ status: 303, headers: { location: "/v1/done" } });
      await (await client.fetch(UPDATE, { method: "POST", body })).body?.cancel();
      const sent = lastApiRequest(server);
      assert.equal(sent.method, "GET");
      assert.equal(sent.path, "/v1/done");
      assert.equal(sent.body, "");
    }));

  test("a lowercase post is a POST: a 302 turns it into a GET, as fetch does", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({ status: 302, headers: { location: "/v1/next" } });
      await (await client.fetch(UPDATE, { method: "post", body })).body?.cancel();
      const sent = sentTo(server, "/v1/next");
      assert.equal(sent.method, "GET");
      assert.equal(sent.body, "");
    }));

  test('redirect: "manual" returns the 3xx; redirect: "error" rejects with a TypeError', () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({ status: 302, headers: { location: "/v1/elsewhere" } });
      const response = await client.fetch(UPDATE, { method: "POST", body, redirect: "manual" });
      assert.equal(response.status, 302);
      server.scriptApi({ status: 302, headers: { location: "/v1/elsewhere" } });
      assert.ok(
        await rejection(client.fetch(UPDATE, { method: "POST", body, redirect: "error" })) instanceof TypeError,
      );
      assert.equal(server.requests.filter((r) => r.path === "/v1/elsewhere").length, 0);
    }));

  test("stops after 20 redirects", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi(...Array.from({ length: 25 }, () => ({ status: 302, headers: { location: "/v1/loop" } })));
      assert.ok(await rejection(client.fetch("/v1/loop")) instanceof TypeError);
      assert.equal(server.apiRequests, 21);
    }));
});

describe("client.fetch() recovers from a 401 once", () => {
  test("drops the rejected token, gets a new one and retries once", () =>
    withSetup(async ({ server, client }) => {
      const old = await client.getToken();
      server.revokeTokens();
      const response = await client.fetch(UPDATE, { method: "POST", body });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(server.tokenRequests, 2);
      const [first, second] = server.requests.filter((r) => r.path === UPDATE);
      assert.equal(first.headers.authorization, `Bearer ${old}`);
      assert.equal(second.headers.authorization, `Bearer ${server.issuedTokens[1]}`);
      assert.equal(second.body, body, "the body is replayed");
      assert.equal(await client.getToken(), server.issuedTokens[1], "the new token is cached");
    }));

  test("replays string, bytes, URLSearchParams, FormData and Blob bodies", async (t) => {
    const bodies: [string, () => BodyInit][] = [
      ["string", () => body],
      ["bytes", () => new TextEncoder().encode(body)],
      ["URLSearchParams", () => new URLSearchParams({ a: "1" })],
      ["FormData", () => {
        const form = new FormData();
        form.set("a", "1");
        return form;
      }],
      ["Blob", () => new Blob([body], { type: "application/json" })],
    ];
    for (const [name, make] of bodies) {
      await t.test(name, () =>
        withSetup(async ({ server, client }) => {
          await client.getToken();
          server.revokeTokens();
          const response = await client.fetch("/v1/echo", { method: "POST", body: make() });
          await response.body?.cancel();
          const [first, second] = server.requests.filter((r) => r.path === "/v1/echo");
          assert.ok(second, "retried");
          assert.ok(first.body.length > 0);
          assert.equal(second.body.length, first.body.length);
        }));
    }
  });

  test("does not retry a ReadableStream body: returns the 401, and the next call has a fresh token", () =>
    withSetup(async ({ server, client }) => {
      await client.getToken();
      server.revokeTokens();
      const stream = new Blob([body]).stream();
      const response = await client.fetch(UPDATE, { method: "POST", body: stream, duplex: "half" } as RequestInit);
      assert.equal(response.status, 401);
      await response.body?.cancel();
      assert.equal(server.requests.filter((r) => r.path === UPDATE).length, 1);
      assert.equal(server.tokenRequests, 2, "the rejected token was replaced for the next call");
      const next = await client.fetch(
        UPDATE,
        { method: "POST", body: new Blob([body]).stream(), duplex: "half" } as RequestInit,
      );
      assert.equal(next.status, 200);
      await next.body?.cancel();
    }));

  test("never loops: a second 401 is returned as it is", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({ status: 401, body: { message: "Unauthenticated." } });
      await client.getToken();
      server.revokeTokens();
      // First answer: 401 from the revoked token; the retry gets the scripted 401.
      const response = await client.fetch(UPDATE, { method: "POST", body });
      assert.equal(response.status, 401);
      await response.body?.cancel();
      assert.equal(server.requests.filter((r) => r.path === UPDATE).length, 2);
    }));

  test("200 concurrent calls after a revocation cause 1 new token request", () =>
    withSetup(async ({ server, client }) => {
      await client.getToken();
      server.revokeTokens();
      const responses = await Promise.all(
        Array.from({ length: 200 }, () => client.fetch(UPDATE, { method: "POST", body })),
      );
      for (const response of responses) {
        assert.equal(response.status, 200);
        await response.body?.cancel();
      }
      assert.equal(server.tokenRequests, 2);
    }));

  test("a token another caller already replaced is not dropped again", () =>
    withSetup(async ({ server, client, options }) => {
      const other = createClient(options); // same cache
      const old = await client.getToken();
      server.revokeTokens();
      await (await other.fetch(UPDATE, { method: "POST", body })).body?.cancel(); // replaces it
      const response = await client.fetch(UPDATE, { method: "POST", body }); // still holds `old`
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(server.tokenRequests, 2, "the second client found the replacement in the cache");
      assert.notEqual(await client.getToken(), old);
    }));
});

describe("authedFetch()", () => {
  test("works with options, reusing the token across calls", () =>
    withSetup(async ({ server, options }) => {
      for (let i = 0; i < 3; i++) {
        const response = await authedFetch(UPDATE, { method: "POST", body }, options);
        assert.equal(response.status, 200);
        await response.body?.cancel();
      }
      assert.equal(server.tokenRequests, 1);
    }));

  test("rejects (never throws synchronously) on bad configuration", async () => {
    const call = authedFetch(UPDATE, undefined, { clientId: "nope", clientSecret: "s" });
    const error = await rejection(call);
    assert.ok(error instanceof PropQAuthError && error.code === "config");
  });
});

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "@propq/auth/testing";

async function withServer(run: (server: TestServer) => Promise<void>, options = {}): Promise<void> {
  const server = await startTestServer(options);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

function tokenRequest(server: TestServer, form: Record<string, string>): Promise<Response> {
  return fetch(server.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams(form),
  });
}

const valid = (server: TestServer) => ({
  grant_type: "client_credentials",
  client_id: String(server.clientId),
  client_secret: server.clientSecret,
});

describe("startTestServer() answers token requests as PropQ does", () => {
  test("200 with token_type, expires_in 2592000 and a JWT access_token", () =>
    withServer(async (server) => {
      const response = await tokenRequest(server, valid(server));
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "token_type"]);
      assert.equal(body.token_type, "Bearer");
      assert.equal(body.expires_in, 2592000);
      assert.equal(body.access_token.split(".").length, 3);
      assert.deepEqual(server.issuedTokens, [body.access_token]);
    }));

  test("400 invalid_request naming the bad parameter", () =>
    withServer(async (server) => {
      const response = await tokenRequest(server, { ...valid(server), client_id: "abc" });
      assert.equal(response.status, 400);
      assert.deepEqual(await response.json(), {
        error: "invalid_request",
        message:
          "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
        hint: "Check the `client_id` parameter",
      });
    }));

  test("401 invalid_client for a wrong secret", () =>
    withServer(async (server) => {
      const response = await tokenRequest(server, { ...valid(server), client_secret: "nope" });
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: "invalid_client", message: "Client authentication failed" });
    }));

  test("plays scripted answers in order, then answers normally again", () =>
    withServer(async (server) => {
      server.scriptToken({ status: 503, headers: { "retry-after": "2" } }, { status: 200, body: "not json" });
      const first = await tokenRequest(server, valid(server));
      assert.equal(first.status, 503);
      assert.equal(first.headers.get("retry-after"), "2");
      await first.body?.cancel();
      assert.equal(await (await tokenRequest(server, valid(server))).text(), "not json");
      assert.equal((await tokenRequest(server, valid(server))).status, 200);
      assert.equal(server.tokenRequests, 3);
    }));
});

describe("startTestServer() guards its API like PropQ", () => {
  test("401 without a valid token, 302 without JSON Content-Type, 419 for a wrong method", () =>
    withServer(async (server) => {
      const token = (await (await tokenRequest(server, valid(server))).json()).access_token;
      const url = `${server.baseUrl}/v1/developments/1/units/update-by-name`;
      const json = { "content-type": "application/json" };
      const noToken = await fetch(url, { method: "POST", headers: json });
      assert.equal(noToken.status, 401);
      assert.deepEqual(await noToken.json(), { message: "Unauthenticated." });
      const auth = { authorization: `Bearer ${token}` };
      const wrongType = await fetch(url, { method: "POST", headers: auth, redirect: "manual" });
      assert.equal(wrongType.status, 302);
      await wrongType.body?.cancel();
      const wrongMethod = await fetch(url, { headers: { ...auth, ...json } });
      assert.equal(wrongMethod.status, 419);
      await wrongMethod.body?.cancel();
      server.revokeTokens();
      const revoked = await fetch(url, { method: "POST", headers: { ...auth, ...json }, body: "{}" });
      assert.equal(revoked.status, 401);
      await revoked.body?.cancel();
      assert.equal(server.apiRequests, 4);
    }));

  test("close() ends open keep-alive connections and frees the port", async () => {
    const server = await startTestServer();
    await (await tokenRequest(server, valid(server))).body?.cancel();
    await server.close();
    await assert.rejects(fetch(server.tokenUrl, { method: "POST" }));
  });
});

describe("startTestServer() knobs for client tests", () => {
  const update = (server: TestServer, token: string, name: string) =>
    fetch(`${server.baseUrl}/v1/developments/7/units/update-by-name`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ UntName: name, UntStatus: 4, UntPrice: 1, UntDirections: [] }),
    });

  test("apiInFlight and maxApiInFlight count API requests from arrival until answered", () =>
    withServer(async (server) => {
      const token = (await (await tokenRequest(server, valid(server))).json()).access_token;
      assert.equal(server.maxApiInFlight, 0); // the token endpoint does not count
      const answers = await Promise.all(["A", "B", "C"].map((name) => update(server, token, name)));
      for (const answer of answers) await answer.body?.cancel();
      assert.equal(server.maxApiInFlight, 3); // apiDelayMs holds each answer, so all three overlap
      assert.equal(server.apiInFlight, 0);
      await (await update(server, token, "D")).body?.cancel();
      assert.equal(server.maxApiInFlight, 3);
    }, { apiDelayMs: 200 }));

  test("scriptApiWhen() answers only the requests it matches, before the ordered script", () =>
    withServer(async (server) => {
      const token = (await (await tokenRequest(server, valid(server))).json()).access_token;
      server.scriptApiWhen((request) => request.body.includes('"B"'), { status: 422, body: { errors: {} } });
      server.scriptApi({ status: 503 });
      const statuses = [];
      for (const name of ["A", "B", "B", "C"]) {
        const answer = await update(server, token, name);
        await answer.body?.cancel();
        statuses.push(answer.status);
      }
      assert.deepEqual(statuses, [503, 422, 200, 200]);
    }));
});

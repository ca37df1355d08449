import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient, PropQAuthError } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";
import { rejection, withSetup } from "./_helpers.ts";

async function authError(promise: Promise<unknown>): Promise<PropQAuthError> {
  const error = await rejection(promise);
  assert.ok(error instanceof PropQAuthError, `expected a PropQAuthError, got ${error}`);
  return error;
}

describe("getToken() reports every failure as a typed PropQAuthError", () => {
  test("401 invalid_client, PropQ's message kept, naming the client id, its source and the token URL; not retried", () =>
    withSetup(async ({ server, client }) => {
      const error = await authError(client.getToken());
      assert.equal(error.code, "invalid_client");
      assert.equal(error.oauthError, "invalid_client");
      assert.equal(error.status, 401);
      assert.equal(error.description, "Client authentication failed");
      assert.equal(
        error.message,
        "Cannot obtain token: server responded 401 invalid_client: Client authentication failed. " +
          `${server.tokenUrl} refused client id ${server.clientId} (from clientId): check the secret in clientSecret`,
      );
      assert.equal(error.response?.status, 401);
      assert.equal(server.tokenRequests, 1);
    }, { clientSecret: "wrong-secret" }));

  test("400 invalid_request with PropQ's hint, not retried", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({
        status: 400,
        body: { error: "invalid_request", message: "The request is missing…", hint: "Check the `client_id` parameter" },
      });
      const error = await authError(client.getToken());
      assert.equal(error.code, "invalid_request");
      assert.equal(error.status, 400);
      assert.equal(error.hint, "Check the `client_id` parameter");
      assert.match(error.message, /Check the `client_id` parameter/);
      assert.equal(server.tokenRequests, 1);
    }));

  test("any other OAuth error string is passed through as the code", () =>
    withSetup(async ({ client, server }) => {
      server.scriptToken({ status: 400, body: { error: "unsupported_grant_type" } });
      assert.equal((await authError(client.getToken())).code, "unsupported_grant_type");
    }));

  test("a 404 page is an http_error with its status", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 404, body: "<html>Not Found</html>" });
      const error = await authError(client.getToken());
      assert.equal(error.code, "http_error");
      assert.equal(error.status, 404);
      assert.equal(server.tokenRequests, 1);
    }));

  test("a redirect is not followed (it would carry the secret) and is an http_error", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 307, headers: { location: "http://127.0.0.1:9/steal" } });
      const error = await authError(client.getToken());
      assert.equal(error.code, "http_error");
      assert.equal(error.status, 307);
      assert.equal(server.tokenRequests, 1);
    }));

  test("a 200 that is not a Bearer token is invalid_response", async (t) => {
    const bodies = {
      "not JSON": "<html>ok</html>",
      "no access_token": { token_type: "Bearer", expires_in: 60 },
      "an empty access_token": { token_type: "Bearer", access_token: "" },
      "a non-Bearer token_type": { token_type: "mac", access_token: "abc" },
      "no token_type": { access_token: "abc" },
      "a token with a line break": { token_type: "Bearer", access_token: "abc\r\nX-Evil: 1" },
      "a JSON array": [1, 2],
    };
    for (const [name, body] of Object.entries(bodies)) {
      await t.test(name, () =>
        withSetup(async ({ server, client }) => {
          server.scriptToken({ status: 200, body });
          const error = await authError(client.getToken());
          assert.equal(error.code, "invalid_response");
          assert.equal(server.tokenRequests, 1);
        }));
    }
  });

  test("token_type is matched case-insensitively", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 200, body: { token_type: "bearer", access_token: "abc", expires_in: 60 } });
      assert.equal(await client.getToken(), "abc");
    }));
});

describe("getToken() retries transient failures", () => {
  test("429 and 5xx are retried up to maxRetries, then succeed", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 503 }, { status: 429 });
      assert.equal(await client.getToken(), server.issuedTokens[0]);
      assert.equal(server.tokenRequests, 3);
    }));

  test("exhausted retries throw the last failure (http_error with status)", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 500 }, { status: 502 }, { status: 503 }, { status: 504 });
      const error = await authError(client.getToken());
      assert.equal(error.code, "http_error");
      assert.equal(error.status, 504);
      assert.equal(server.tokenRequests, 4);
    }, { maxRetries: 3 }));

  test("maxRetries: 0 makes one attempt", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 503 });
      assert.equal((await authError(client.getToken())).status, 503);
      assert.equal(server.tokenRequests, 1);
    }, { maxRetries: 0 }));

  test("backoff doubles with jitter: waits lie within [d/2, d] for d = retryDelayMs·2^n", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 503 }, { status: 503 });
      await client.getToken();
      const [a, b, c] = server.requests.map((request) => request.receivedAt);
      assert.ok(b - a >= 50 - 5 && b - a <= 100 + 80, `first wait ${b - a} ms`);
      assert.ok(c - b >= 100 - 5 && c - b <= 200 + 80, `second wait ${c - b} ms`);
    }, { retryDelayMs: 100 }));

  test("Retry-After in seconds is honoured", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ status: 429, headers: { "retry-after": "1" } });
      await client.getToken();
      const [a, b] = server.requests.map((request) => request.receivedAt);
      assert.ok(b - a >= 990, `waited only ${b - a} ms`);
    }));

  test("a dropped connection is a network_error, retried", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ destroy: true }, { destroy: true });
      const error = await authError(client.getToken());
      assert.equal(error.code, "network_error");
      assert.equal(server.tokenRequests, 2);
    }, { maxRetries: 1 }));

  test("an unreachable endpoint is a network_error", async () => {
    const server = await startTestServer();
    await server.close();
    await withSetup(async ({ client }) => {
      assert.equal((await authError(client.getToken())).code, "network_error");
    }, { tokenUrl: server.tokenUrl, maxRetries: 0 });
  });

  test("a slow answer is a timeout after timeoutMs, retried", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({ delayMs: 1_000, status: 200 }, { delayMs: 1_000, status: 200 });
      const started = Date.now();
      const error = await authError(client.getToken());
      assert.equal(error.code, "timeout");
      assert.equal(server.tokenRequests, 2);
      assert.ok(Date.now() - started < 900, "gave up on time");
    }, { timeoutMs: 100, maxRetries: 1 }));
});

describe("errors never carry the secret", () => {
  const secret = "s3cr3t-VALUE-that-must-not-leak";
  function assertClean(error: unknown) {
    const texts = [
      String(error),
      (error as Error).stack ?? "",
      JSON.stringify(error),
      String((error as Error).cause ?? ""),
      JSON.stringify(Object.entries(error as object)),
    ];
    for (const text of texts) assert.ok(!text.includes(secret), `secret leaked in: ${text}`);
  }

  test("not in a refusal, even when the server echoes it", () =>
    withSetup(async ({ server, client }) => {
      server.scriptToken({
        status: 400,
        body: { error: "invalid_request", message: `bad secret ${secret}`, hint: `got ${secret}` },
      });
      const error = await authError(client.getToken());
      assertClean(error);
      assert.equal(error.description, undefined, "text holding the secret is withheld, not quoted");
      assert.equal(error.hint, undefined);
      assert.match(error.message, /server responded 400 invalid_request$/);
    }, { clientSecret: secret }));

  test("not when the server echoes the form body, where the secret is percent-encoded", () => {
    const tricky = "Ab+c/D=e f&g";
    const form = new URLSearchParams({ client_secret: tricky }).toString();
    return withSetup(async ({ server, client }) => {
      server.scriptToken({
        status: 400,
        body: { error: "invalid_request", message: `could not parse body: ${form}`, hint: encodeURIComponent(tricky) },
      });
      const error = await authError(client.getToken());
      for (const text of [error.message, error.stack ?? "", JSON.stringify(error)]) {
        for (const leak of [tricky, form.slice("client_secret=".length), encodeURIComponent(tricky)]) {
          assert.ok(!text.includes(leak), `${leak} leaked in: ${text}`);
        }
      }
    }, { clientSecret: tricky });
  });

  test("not in config, http_error or foreign_origin errors", async (t) => {
    await t.test("config (a secret with surrounding whitespace)", () => {
      try {
        createClient({ clientId: 1, clientSecret: ` ${secret} ` });
      } catch (error) {
        return assertClean(error);
      }
      assert.fail("expected a config error");
    });
    await t.test("http_error", () =>
      withSetup(async ({ server, client }) => {
        server.scriptToken({ status: 404, body: `<html>${secret}</html>` });
        assertClean(await rejection(client.getToken()));
      }, { clientSecret: secret }));
    await t.test("foreign_origin", () =>
      withSetup(async ({ client }) => {
        assertClean(await rejection(client.fetch("https://elsewhere.example/v1")));
      }, { clientSecret: secret }));
  });

  test("not in invalid_client, network, timeout or invalid_response errors", async (t) => {
    await t.test("invalid_client", () =>
      withSetup(async ({ client }) => assertClean(await rejection(client.getToken())), { clientSecret: secret }));
    await t.test("timeout", () =>
      withSetup(async ({ server, client }) => {
        server.scriptToken({ delayMs: 500 });
        assertClean(await rejection(client.getToken()));
      }, { clientSecret: secret, timeoutMs: 50, maxRetries: 0 }));
    await t.test("network_error", () =>
      withSetup(async ({ server, client }) => {
        server.scriptToken({ destroy: true });
        assertClean(await rejection(client.getToken()));
      }, { clientSecret: secret, maxRetries: 0 }));
    await t.test("invalid_response", () =>
      withSetup(async ({ server, client }) => {
        server.scriptToken({ body: `not json ${secret}` });
        assertClean(await rejection(client.getToken()));
      }, { clientSecret: secret }));
  });
});

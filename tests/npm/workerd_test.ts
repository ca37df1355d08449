// The built ES module core in Cloudflare's runtime, workerd, through Miniflare: no Node.js
// compatibility flag, so it proves the core needs nothing beyond web standards.
// `deno test` skips tests/npm/: this runs on Node and Bun from npm/test/, against the local PropQ server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer } from "@propq/auth/testing";

/** The part of Miniflare's API this test calls. */
interface MiniflareLike {
  dispatchFetch(url: string): Promise<Response>;
  dispose(): Promise<void>;
}

/**
 * Miniflare (workerd, sharp: some 200 MB) is installed only by `deno task test:npm`, in npm/node_modules
 * (a devDependency pinned in scripts/_npm_package.ts). Loaded by a name that is not a literal, so that
 * Deno, which type-checks this file, never resolves or fetches it.
 */
async function loadMiniflare(): Promise<new (options: Record<string, unknown>) => MiniflareLike> {
  const name = "miniflare";
  return (await import(name)).Miniflare;
}

/** A Worker as a user writes it: credentials come from its bindings, since Workers have no process.env. */
function workerScript(core: string): string {
  return `
import { createClient, UnitStatus, updateUnitByName } from "./${core}";

export default {
  async fetch(request, env) {
    const propq = createClient({
      clientId: env.PROPQ_CLIENT_ID,
      clientSecret: env.PROPQ_CLIENT_SECRET,
      tokenUrl: env.PROPQ_TOKEN_URL,
      baseUrl: env.PROPQ_BASE_URL,
    });
    const token = await propq.getToken();
    const answer = await updateUnitByName(propq, 1234, {
      UntName: "A-101",
      UntStatus: UnitStatus.SOLD,
      UntPrice: 350000,
      UntDirections: ["South", "West"],
    });
    const response = await propq.fetch("/v1/developments/1234/units/update-by-name", {
      method: "POST",
      body: JSON.stringify({ UntName: "A-102", UntStatus: 1, UntPrice: 299000, UntDirections: [] }),
    });
    return Response.json({
      token,
      again: await propq.getToken(),
      answer,
      status: response.status,
      hasProcess: typeof process !== "undefined",
    });
  },
};
`;
}

test("the ES module build runs in workerd: getToken and authed calls against a local PropQ server", {
  timeout: 60_000,
}, async () => {
  // The module an `import` of the package resolves to: what a Workers bundler picks too.
  const core = fileURLToPath(import.meta.resolve("propq-auth"));
  const root = dirname(dirname(core));
  const Miniflare = await loadMiniflare();
  const server = await startTestServer();
  const miniflare = new Miniflare({
    modules: true,
    script: workerScript(relative(root, core).split("\\").join("/")),
    scriptPath: join(root, "worker.js"),
    modulesRoot: root,
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }],
    compatibilityDate: "2026-04-01",
    bindings: {
      PROPQ_CLIENT_ID: String(server.clientId),
      PROPQ_CLIENT_SECRET: server.clientSecret,
      PROPQ_TOKEN_URL: server.tokenUrl,
      PROPQ_BASE_URL: server.baseUrl,
    },
  });
  try {
    const response = await miniflare.dispatchFetch("http://worker.test/");
    const body = await response.text();
    assert.equal(response.status, 200, body);
    const result = JSON.parse(body);
    assert.equal(result.hasProcess, false, "a Worker without nodejs_compat has no process global");
    assert.equal(result.again, result.token);
    assert.deepEqual(result.answer, {
      success: true,
      development_id: "1234",
      unit: { UntName: "A-101", UntStatus: 4, UntPrice: 350000, UntDirections: ["South", "West"] },
    });
    assert.equal(result.status, 200);
    assert.equal(server.tokenRequests, 1);
    const calls = server.requests.filter((request) => request.path.includes("/units/"));
    assert.equal(calls.length, 2);
    for (const call of calls) {
      assert.equal(call.headers.authorization, `Bearer ${result.token}`);
      assert.equal(call.headers["content-type"], "application/json");
    }
  } finally {
    await miniflare.dispose();
    await server.close();
  }
});

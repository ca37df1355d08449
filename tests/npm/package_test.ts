// The built npm package as Node and Bun users load it (`deno test` skips tests/npm/: they run from npm/test/).
// Every entry point loads through the package's exports map with `import` and with `require`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { createClient, UnitStatus, updateUnitByName } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";

const NAME = "propq-auth";
const require = createRequire(import.meta.url);

/** The runtime exports of every entry point (SPEC §2); types leave no trace at runtime. */
const ENTRIES: Record<string, string[]> = {
  ".": [
    "MemoryCache",
    "PropQApiError",
    "PropQAuthError",
    "UnitStatus",
    "authedFetch",
    "createClient",
    "getToken",
    "updateUnitByName",
  ],
  "./file": ["FileCache"],
  "./kv": ["KvCache"],
  "./testing": ["startTestServer"],
};

interface Manifest {
  name: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
}

const manifest: Manifest = require(`${NAME}/package.json`);

test("the npm package exports the four entry points and its package.json, and has no runtime dependencies", () => {
  assert.equal(manifest.name, NAME);
  assert.deepEqual(Object.keys(manifest.exports).sort(), [...Object.keys(ENTRIES), "./package.json"].sort());
  assert.equal(manifest.dependencies, undefined);
});

test("every entry point loads with import and with require", async (t) => {
  for (const [subpath, names] of Object.entries(ENTRIES)) {
    const specifier = NAME + subpath.slice(1);
    await t.test(`${specifier}: import gets esm/, require gets cjs/, both export ${names.join(", ")}`, async () => {
      assert.match(fileURLToPath(import.meta.resolve(specifier)), /[/\\]esm[/\\].+\.js$/);
      assert.match(require.resolve(specifier), /[/\\]cjs[/\\].+\.js$/);
      const esm = await import(specifier);
      const cjs = require(specifier);
      assert.deepEqual(Object.keys(esm).sort(), names);
      assert.deepEqual(Object.keys(cjs).filter((name) => name !== "__esModule").sort(), names);
      for (const name of names) assert.equal(typeof esm[name], typeof cjs[name], name);
    });
  }
});

test("the CommonJS build gets a token and makes an authed call", async () => {
  const cjs = require(NAME);
  const server = await require(`${NAME}/testing`).startTestServer();
  try {
    const client = cjs.createClient({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
      cache: new cjs.MemoryCache(),
    });
    const token = await client.getToken();
    const unit = { UntName: "A-101", UntStatus: cjs.UnitStatus.SOLD, UntPrice: 350000, UntDirections: ["South"] };
    await cjs.updateUnitByName(client, 1234, unit);
    assert.equal(server.tokenRequests, 1);
    assert.equal(server.requests.at(-1)?.headers.authorization, `Bearer ${token}`);
    await assert.rejects(
      cjs.getToken({ clientId: server.clientId, clientSecret: "wrong", tokenUrl: server.tokenUrl }),
      {
        name: "PropQAuthError",
        code: "invalid_client",
      },
    );
  } finally {
    await server.close();
  }
});

test("the ES module build gets a token and makes an authed call", async () => {
  const server = await startTestServer();
  try {
    const client = createClient({
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
    });
    const token = await client.getToken();
    await updateUnitByName(client, 1234, {
      UntName: "A-101",
      UntStatus: UnitStatus.RESERVED,
      UntPrice: 299000,
      UntDirections: [],
    });
    assert.equal(server.tokenRequests, 1);
    assert.equal(server.requests.at(-1)?.headers.authorization, `Bearer ${token}`);
  } finally {
    await server.close();
  }
});

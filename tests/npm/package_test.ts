// The built npm package as Node and Bun users load it (`deno test` skips tests/npm/: they run from npm/test/).
// Every entry point loads through the package's exports map with `import` and with `require`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { createClient, UnitStatus, updateUnitByName } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";

const NAME = "propq-auth";
const require = createRequire(import.meta.url);

/** The runtime exports of every library entry point (SPEC §2, §5); types leave no trace at runtime. */
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
  "./testing": ["startTestServer", "verifyTokenCache"],
  "./redis": ["RedisCache"],
};

/** The command line: an entry too, but a program, so loading it would run it. */
const CLI = "./cli";

interface Manifest {
  name: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
  engines?: { node?: string };
  repository?: { url: string };
  homepage?: string;
  bugs?: { url: string };
}

const manifest: Manifest = require(`${NAME}/package.json`);
const root = dirname(require.resolve(`${NAME}/package.json`));

test("the npm package exports every entry point and its package.json, and has no runtime dependencies", () => {
  assert.equal(manifest.name, NAME);
  const exported = [...Object.keys(ENTRIES), CLI, "./package.json"].sort();
  assert.deepEqual(Object.keys(manifest.exports).sort(), exported);
  assert.equal(manifest.dependencies, undefined);
});

test("package.json: the CLI is the bin propq-auth, a shebang ES module bundled into one file, executable", async () => {
  const cli = fileURLToPath(import.meta.resolve(NAME + CLI.slice(1)));
  assert.match(cli, /[/\\]esm[/\\]src[/\\]cli[/\\]main\.js$/);
  assert.match(require.resolve(NAME + CLI.slice(1)), /[/\\]cjs[/\\].+\.js$/);
  const code = await readFile(cli, "utf8");
  assert.ok(code.startsWith("#!/usr/bin/env node\n"));
  // Bundled: Node loads one module at start-up, not the forty the CLI and the library are made of.
  assert.doesNotMatch(code, /\b(from|import)\s*\(?\s*["']\.{1,2}\//, "no relative import left in the bin");
  assert.deepEqual(manifest.bin, { [NAME]: "./esm/src/cli/main.js" });
  assert.equal(join(root, manifest.bin[NAME]), cli);
  if (process.platform !== "win32") assert.equal(statSync(cli).mode & 0o111, 0o111, "executable by everyone");
});

test("package.json: engines.node admits this Node and is at least 20.6 (node --env-file)", () => {
  const floor = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(manifest.engines?.node ?? "");
  assert.ok(floor, `engines.node is ${manifest.engines?.node}`);
  const [major, minor] = [Number(floor[1]), Number(floor[2])];
  assert.ok(major > 20 || (major === 20 && minor >= 6), manifest.engines?.node);
  const [runningMajor, runningMinor] = process.versions.node.split(".").map(Number);
  assert.ok(runningMajor > major || (runningMajor === major && runningMinor >= minor), "the tests' Node qualifies");
});

test("package.json: repository, homepage and bugs come together, all pointing at one public home, or not at all", () => {
  if (manifest.repository === undefined) {
    assert.equal(manifest.homepage, undefined);
    assert.equal(manifest.bugs, undefined);
    return;
  }
  const home = manifest.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
  assert.match(home, /^https:\/\//);
  assert.equal(manifest.homepage, `${home}#readme`);
  assert.equal(manifest.bugs?.url, `${home}/issues`);
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

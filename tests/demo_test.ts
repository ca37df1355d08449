import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { finished } from "./_process.ts";

test("deno task demo, without credentials, walks the local server through token, cache and update", {
  skip: "Deno" in globalThis ? false : "the demo is a Deno script",
}, async () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env.PROPQ_CLIENT_ID;
  delete env.PROPQ_CLIENT_SECRET;
  const result = await finished(
    spawn(process.execPath, ["run", "--allow-net", "--allow-env", "--allow-read", "scripts/demo.ts"], {
      cwd: root,
      env,
    }),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "", "no warnings");
  assert.match(result.stdout, /using the bundled local PropQ server/);
  assert.match(result.stdout, /1\. getTokenInfo\(\): .* expires 20\d\d-.*\(in 30\.00 days; refreshed from 20\d\d-/);
  assert.match(result.stdout, /2\. getToken\(\) again: served from cache .*token requests: 1/);
  assert.match(result.stdout, /3\. updateUnitByName\(\): \{"success":true/);
  assert.match(result.stdout, /Content-Type: application\/json; token requests: 1/);
});

test("deno task demo on a fresh clone fetches no npm package and prints no warning", {
  skip: "Deno" in globalThis ? false : "the demo is a Deno task",
  timeout: 120_000,
}, async () => {
  // What the demo needs, without node_modules, and an empty DENO_DIR: a fresh clone on a fresh machine.
  const root = fileURLToPath(new URL("..", import.meta.url));
  const clone = await mkdtemp(join(tmpdir(), "propq-auth-demo-"));
  try {
    for (const path of ["deno.json", "deno.lock", "mod.ts", "src", "scripts"]) {
      await cp(join(root, path), join(clone, path), { recursive: true });
    }
    const denoDir = join(clone, ".deno_dir");
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: "1",
      DENO_DIR: denoDir,
      DENO_NO_UPDATE_CHECK: "1",
    };
    delete env.PROPQ_CLIENT_ID;
    delete env.PROPQ_CLIENT_SECRET;
    const result = await finished(spawn(process.execPath, ["task", "demo"], { cwd: clone, env }));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /using the bundled local PropQ server/);
    assert.doesNotMatch(result.stdout + result.stderr, /Warning|Download|Initialize|approve-scripts/);
    await assert.rejects(stat(join(clone, "node_modules")), { code: "ENOENT" }, "no node_modules");
    const fetched = await readdir(join(denoDir, "npm"), { recursive: true }).catch(() => []);
    assert.deepEqual(fetched, [], "no npm package in the empty DENO_DIR");
  } finally {
    await rm(clone, { recursive: true, force: true });
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
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

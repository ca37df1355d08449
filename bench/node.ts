// The Node run of `deno task bench`. bench.ts bundles this file (with _cases.ts, _suite.ts and
// _measure.ts) into bench/.tmp/node/node.mjs, leaving every `@propq/auth…` import as the
// package's own name `propq-auth…`, which bench/.tmp/node/node_modules/propq-auth links to npm/:
// the cases run against the built package, as a user's code would.
// Usage: node bench/.tmp/node/node.mjs RESULTS_JSON_PATH
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { OpenKv } from "./_cases.ts";
import { runSuite } from "./_suite.ts";

const [out] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const env = { ...process.env, NO_COLOR: "1" };

const results = await runSuite({
  runtime: "Node",
  spawnMember: (args, extra) =>
    spawn(process.execPath, [join(here, "_fleet_member.mjs"), ...args], {
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  spawnProbe: (load) =>
    spawn(process.execPath, [join(here, "_import_probe.mjs"), ...(load ? ["load", "propq-auth"] : [])], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  openKv: async (path) => {
    const name = "@deno/kv";
    const { openKv } = await import(name);
    return await openKv(path) as OpenKv;
  },
});
writeFileSync(out, JSON.stringify({ ...results, versions: process.versions }));
// Sockets of fetch's keep-alive pool can outlive the closed servers for a while: don't wait for them.
process.exit(0);

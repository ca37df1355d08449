// The Node run of `deno task bench`. bench.ts bundles this file (with the suite and its cases)
// into bench/.tmp/node/node.mjs, leaving every `@propq/auth…` import as the package's own name
// `propq-auth…`, which bench/.tmp/node/node_modules/propq-auth links to npm/: the cases run
// against the built package, as a user's code would. The optional _redis.ts and _cli.ts, when
// written, are bundled beside it as _redis.mjs and _cli.mjs.
// Usage: node bench/.tmp/node/node.mjs RESULTS_JSON_PATH
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { OpenKv } from "./_cases.ts";
import type { Loaded } from "./_extras.ts";
import { runSuite } from "./_suite.ts";

const [out] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const env = { ...process.env, NO_COLOR: "1" };
// bench.ts wrote why each optional measurement has no bundle here.
const missing: Record<string, string> = existsSync(join(here, "extras.json"))
  ? JSON.parse(readFileSync(join(here, "extras.json"), "utf8"))
  : {};

async function loadExtra(name: string): Promise<Loaded> {
  const path = join(here, `${name}.mjs`);
  if (missing[name] !== undefined || !existsSync(path)) return { missing: missing[name] ?? `${name}.mjs is not built` };
  return { module: await import(pathToFileURL(path).href) };
}

const results = await runSuite({
  runtime: "Node",
  root,
  loadExtra,
  // The fixture as `deno task build` compiles it; it finds `propq-auth` and `redis` from npm/.
  spawnRedisMember: (args, extra) =>
    spawn(process.execPath, [join(root, "npm", "test", "fixtures", "redis_get_token.js"), ...args], {
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    }),
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

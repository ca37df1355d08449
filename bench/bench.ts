// `deno task bench` (issue 7): the measurements on Deno against the sources, size and
// dependencies, then the same measurements on Node against the built npm package (npm/, from
// `deno task build`, rebuilt first when the sources are newer). Writes bench/RESULTS.md.
// Every loop is bounded, servers listen on 127.0.0.1 only, child processes are killed after a
// time limit, and scratch files go to the OS temp dir or bench/.tmp/ (git-ignored).
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import type { Loaded } from "./_extras.ts";
import { renderReport, type Report } from "./_report.ts";
import type { RuntimeResults } from "./_results.ts";
import { measureDeps, measureSize } from "./_size.ts";
import { runSuite } from "./_suite.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCH = join(ROOT, "bench");
const TMP = join(BENCH, ".tmp");
const NODE_DIR = join(TMP, "node");
// The Node half: the issue-7 cases, the lifecycle streams (about a minute), Redis and CLI (each
// bounded by _extras.ts), with room for a busy machine.
const NODE_TIMEOUT_MS = 900_000;
const BUILD_TIMEOUT_MS = 180_000;
// Optional measurements other engineers own (see _extras.ts): run when the file exists.
const EXTRAS = ["_redis", "_cli"] as const;

const started = performance.now();
const errors: string[] = [];
const denoFlags = ["run", "--allow-all", "--quiet", "--config", join(ROOT, "deno.json")];
const env = { ...process.env, NO_COLOR: "1" };

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function newestSource(dir: string, newest = 0): Promise<number> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) newest = await newestSource(path, newest);
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, (await Deno.stat(path)).mtime?.getTime() ?? 0);
  }
  return newest;
}

async function run(command: string, args: string[], timeoutMs: number): Promise<boolean> {
  const { success } = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  return success;
}

/** Rebuilds npm/ when it is missing or older than the sources; returns why Node cannot run, if so. */
async function ensureBuilt(): Promise<string | undefined> {
  const built = join(ROOT, "npm", "esm", "mod.js");
  const builtAt = (await exists(built)) ? (await Deno.stat(built)).mtime?.getTime() ?? 0 : 0;
  const sourcesAt = Math.max(
    await newestSource(join(ROOT, "src")),
    (await Deno.stat(join(ROOT, "mod.ts"))).mtime!.getTime(),
  );
  if (builtAt >= sourcesAt) return undefined;
  console.log(
    builtAt === 0 ? "[bench] npm/ is not built: deno task build" : "[bench] npm/ is older than src/: deno task build",
  );
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  if (config.tasks?.build === undefined) return "deno.json has no build task yet";
  if (!await run(Deno.execPath(), ["task", "build"], BUILD_TIMEOUT_MS).catch(() => false)) {
    return "deno task build failed";
  }
  return undefined;
}

/**
 * Bundles the optional measurements that exist, each on its own so that one that does not build
 * leaves the others running; writes why each missing one is missing to extras.json for node.ts.
 */
async function bundleExtras(plugins: esbuild.Plugin[]): Promise<void> {
  const missing: Record<string, string> = {};
  for (const name of EXTRAS) {
    const source = join(BENCH, `${name}.ts`);
    if (!await exists(source)) {
      missing[name] = `bench/${name}.ts is not written yet`;
      continue;
    }
    try {
      await esbuild.build({
        entryPoints: [source],
        outdir: NODE_DIR,
        outExtension: { ".js": ".mjs" },
        bundle: true,
        format: "esm",
        platform: "node",
        target: "node20",
        external: ["@deno/kv"],
        plugins,
        // Redis clients are CommonJS that require Node built-ins: give the ES module bundle a require.
        banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
        logLevel: "silent",
      });
    } catch (error) {
      missing[name] = `bench/${name}.ts did not bundle for Node: ${(error as Error).message.split("\n")[0]}`;
      console.log(`[bench] ${missing[name]}`);
    }
  }
  await Deno.writeTextFile(join(NODE_DIR, "extras.json"), JSON.stringify(missing));
}

/** Loads an optional measurement module on Deno, from the sources. */
async function loadExtra(name: (typeof EXTRAS)[number]): Promise<Loaded> {
  const path = join(BENCH, `${name}.ts`);
  if (!await exists(path)) return { missing: `bench/${name}.ts is not written yet` };
  // Not a literal: while the file does not exist, type-checking bench/ must not look for it.
  return { module: await import(pathToFileURL(path).href) };
}

/** Bundles the Node entry, fleet member and import probe, linking `propq-auth` to npm/. */
async function bundleForNode(): Promise<void> {
  await Deno.remove(NODE_DIR, { recursive: true }).catch(() => {});
  await Deno.mkdir(join(NODE_DIR, "node_modules", "@deno"), { recursive: true });
  await Deno.symlink(join(ROOT, "npm"), join(NODE_DIR, "node_modules", "propq-auth"));
  // The KV fleet on Node opens the sqlite file with @deno/kv: the build's copy, else the project's.
  for (const dir of [join(ROOT, "npm", "node_modules", "@deno", "kv"), join(ROOT, "node_modules", "@deno", "kv")]) {
    if (await exists(dir)) {
      await Deno.symlink(dir, join(NODE_DIR, "node_modules", "@deno", "kv"));
      break;
    }
  }
  const toPackage: esbuild.Plugin = {
    name: "propq-auth-package",
    setup(build) {
      build.onResolve({ filter: /^@propq\/auth(\/.*)?$/ }, (args) => ({
        path: args.path.replace(/^@propq\/auth/, "propq-auth"),
        external: true,
      }));
    },
  };
  try {
    await esbuild.build({
      entryPoints: ["node.ts", "_fleet_member.ts", "_import_probe.ts"].map((name) => join(BENCH, name)),
      outdir: NODE_DIR,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: ["@deno/kv"],
      plugins: [toPackage],
      logLevel: "warning",
    });
    await bundleExtras([toPackage]);
  } finally {
    await esbuild.stop();
  }
}

async function nodeVersion(): Promise<string | undefined> {
  try {
    const { stdout, success } = await new Deno.Command("node", { args: ["--version"], stdout: "piped" }).output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The Node run, in its own process; its figures come back as JSON. */
async function runNode(): Promise<
  { results?: RuntimeResults & { versions?: Record<string, string> }; skipped?: string }
> {
  if (await nodeVersion() === undefined) return { skipped: "node is not on PATH" };
  const reason = await ensureBuilt();
  if (reason !== undefined) return { skipped: reason };
  await bundleForNode();
  const out = join(TMP, "node-results.json");
  await Deno.remove(out).catch(() => {});
  const ok = await run("node", [join(NODE_DIR, "node.mjs"), out], NODE_TIMEOUT_MS).catch(() => false);
  if (!ok || !await exists(out)) return { skipped: "the Node run failed or timed out (see the output above)" };
  return { results: JSON.parse(await Deno.readTextFile(out)) };
}

console.log(`[bench] load average ${loadavg().map((n) => n.toFixed(2)).join(" ")}; ${cpus().length} CPUs`);
await Deno.mkdir(TMP, { recursive: true });

const deno = await runSuite({
  runtime: "Deno",
  root: ROOT,
  loadExtra,
  spawnMember: (args, extra) =>
    spawn(Deno.execPath(), [...denoFlags, "--unstable-kv", join(BENCH, "_fleet_member.ts"), ...args], {
      env: { ...env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  spawnProbe: (load) =>
    spawn(
      Deno.execPath(),
      [
        ...denoFlags,
        join(BENCH, "_import_probe.ts"),
        ...(load ? ["load", new URL("../mod.ts", import.meta.url).href] : []),
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] },
    ),
  openKv: (path) => Deno.openKv(path),
});
errors.push(...deno.errors.map((e) => `Deno: ${e}`));

let size: Report["size"];
let deps: Report["deps"];
try {
  size = await measureSize(ROOT);
  for (const b of size.bundles) console.log(`[size] ${b.label}: ${b.minified} B minified, ${b.gzip} B gzipped`);
} catch (error) {
  errors.push(`size: ${(error as Error).message}`);
}

const node = await runNode();
if (node.skipped) console.log(`[bench] Node run skipped: ${node.skipped}`);
errors.push(...(node.results?.errors ?? []).map((e) => `Node: ${e}`));

try {
  deps = await measureDeps(ROOT);
  console.log(
    `[deps] npm dependencies ${deps.npmDependencies ?? "n/a"}; non-relative imports: ${deps.offenders.length}`,
  );
} catch (error) {
  errors.push(`deps: ${(error as Error).message}`);
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
const report: Report = {
  date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
  machine: `${cpus().length} CPUs (${cpu}), ${Deno.build.os}/${Deno.build.arch}, shared: load average ${
    loadavg()[0].toFixed(1)
  } at the end of the run`,
  versions: {
    ...Deno.version,
    node: node.results?.versions?.node ? `v${node.results.versions.node}` : await nodeVersion(),
    nodeV8: node.results?.versions?.v8,
    esbuild: size?.esbuild,
  },
  deno,
  node: node.results,
  nodeSkipped: node.skipped,
  size,
  deps,
  errors,
  seconds: (performance.now() - started) / 1000,
};
const path = join(BENCH, "RESULTS.md");
await Deno.writeTextFile(path, renderReport(report));
// Formatted as `deno task check` expects it (fmt --check covers markdown too).
await run(Deno.execPath(), ["fmt", "--quiet", path], 30_000).catch(() => false);
console.log(`[bench] wrote ${path.slice(dirname(ROOT).length + 1)} in ${report.seconds.toFixed(0)} s`);
// Keep-alive sockets of fetch's pool may outlive the closed servers for a while: don't wait for them.
// A case that failed fails the task, after the report is written.
Deno.exit(errors.length === 0 ? 0 : 1);

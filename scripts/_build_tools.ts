// The build's own tools, TypeScript, @types/node and esbuild (which bundles the command line), installed by npm
// in npm/.build-tools/ at the versions deno.json `imports` pins, and loaded from there. Deno resolves no npm
// package for the build, so `deno task build` fetches these (and their own few dependencies) and nothing else.
import type TS from "typescript";
import type * as Esbuild from "esbuild";
import { createRequire } from "node:module";
import { join } from "node:path";
import { BUILD_TOOLS, buildToolsPackageJson, type DenoConfig, pinned } from "./_npm_package.ts";
import { NPM, run } from "./_run.ts";

/** The tools the build compiles with. */
export interface BuildTools {
  ts: typeof TS;
  esbuild: typeof Esbuild;
  /** Where `@types/node` lives, for the compiler's `typeRoots`. */
  typeRoots: string;
}

async function installedVersion(dir: string, name: string): Promise<string | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "node_modules", name, "package.json"))).version;
  } catch {
    return undefined;
  }
}

/** Installs the build tools in `dir` unless the pinned versions are already there, then loads TypeScript. */
export async function buildTools(config: DenoConfig, dir: string): Promise<BuildTools> {
  const versions = pinned(config, BUILD_TOOLS, "The build uses");
  let current = true;
  for (const [name, version] of Object.entries(versions)) current &&= await installedVersion(dir, name) === version;
  if (!current) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "package.json"), JSON.stringify(buildToolsPackageJson(config), null, 2) + "\n");
    const args = ["install", "--no-audit", "--no-fund", "--loglevel=error"];
    if (!await run(NPM, args, { cwd: dir, timeoutMs: 300_000 })) throw new Error(`npm install in ${dir} failed`);
  }
  const require = createRequire(join(dir, "package.json"));
  return { ts: require("typescript"), esbuild: require("esbuild"), typeRoots: join(dir, "node_modules", "@types") };
}

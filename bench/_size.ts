// Size and dependencies (Deno only): the core entry bundled and minified by esbuild, gzipped;
// the imports every exported entry reaches; the npm package's runtime dependencies.
import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Bytes of one bundle. */
export interface BundleSize {
  label: string;
  minified: number;
  gzip: number;
}

/** What {@linkcode measureSize} reports. */
export interface SizeResults {
  esbuild: string;
  /** `mod.ts` with every export, and with `createClient` alone (what tree-shaking leaves a typical user). */
  bundles: BundleSize[];
  /** Minified bytes per source file in the full bundle, largest first. */
  modules: { path: string; bytes: number }[];
}

/** What {@linkcode measureDeps} reports. */
export interface DepsResults {
  /** Runtime `dependencies` of npm/package.json; undefined when npm/ is not built. */
  npmDependencies?: number;
  /** Optional peers the package names (a KV library it works with but never needs). */
  npmOptionalPeers: string[];
  /** Exported entries checked. */
  entries: string[];
  /** Modules their graphs reach. */
  modules: number;
  /** `node:` built-ins they import. */
  builtins: string[];
  /** Specifiers that are neither relative nor `node:` (target: none). */
  offenders: string[];
}

async function bundle(
  root: string,
  label: string,
  contents: string,
): Promise<{ size: BundleSize; meta: esbuild.Metafile }> {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: root, sourcefile: "entry.ts", loader: "ts" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  return { size: { label, minified: code.length, gzip: gzipSync(code, { level: 9 }).length }, meta: result.metafile };
}

/** Bundles the core entry (browser-neutral, minified) and gzips it. */
export async function measureSize(root: string): Promise<SizeResults> {
  try {
    const full = await bundle(root, "mod.ts, every export", 'export * from "./mod.ts";');
    const createOnly = await bundle(root, "mod.ts, createClient only", 'export { createClient } from "./mod.ts";');
    const output = Object.values(full.meta.outputs)[0];
    const modules = Object.entries(output.inputs)
      .map(([path, input]) => ({ path, bytes: input.bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes);
    return { esbuild: esbuild.version, bundles: [full.size, createOnly.size], modules };
  } finally {
    await esbuild.stop();
  }
}

interface DenoInfo {
  modules: { kind: string; specifier: string; dependencies?: { specifier: string }[] }[];
}

/** Checks that every exported entry reaches only relative and `node:` imports, and counts npm dependencies. */
export async function measureDeps(root: string): Promise<DepsResults> {
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  const entries: string[] = Object.values(config.exports);
  const modules = new Set<string>();
  const builtins = new Set<string>();
  const offenders = new Set<string>();
  for (const entry of entries) {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", join(root, entry)],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) throw new Error(`deno info ${entry} failed`);
    const info: DenoInfo = JSON.parse(new TextDecoder().decode(stdout));
    for (const module of info.modules) {
      if (module.specifier.startsWith("node:")) {
        builtins.add(module.specifier);
        continue;
      }
      modules.add(module.specifier);
      if (!module.specifier.startsWith("file:")) offenders.add(module.specifier);
      for (const dependency of module.dependencies ?? []) {
        if (!/^(\.\.?\/|node:)/.test(dependency.specifier)) {
          offenders.add(`${dependency.specifier} (in ${fileURLToPath(module.specifier).slice(root.length)})`);
        }
      }
    }
  }
  let npmDependencies: number | undefined;
  let npmOptionalPeers: string[] = [];
  try {
    const pkg = JSON.parse(await Deno.readTextFile(join(root, "npm", "package.json")));
    npmDependencies = Object.keys(pkg.dependencies ?? {}).length;
    npmOptionalPeers = Object.keys(pkg.peerDependencies ?? {});
  } catch {
    npmDependencies = undefined;
  }
  return {
    npmDependencies,
    npmOptionalPeers,
    entries,
    modules: modules.size,
    builtins: [...builtins].sort(),
    offenders: [...offenders],
  };
}

// `deno task build`: writes the npm package to npm/ from the same sources, doing what dnt does
// (dnt itself is not reachable here) with TypeScript's compiler API:
// - esm/ and cjs/: every deno.json export, type-checked against @types/node and the DOM libs,
//   as ES modules and CommonJS, each with its .d.ts; relative `.ts` specifiers become `.js`;
// - package.json generated from deno.json (with `bin` once the CLI entry is a program, and `engines` from
//   the Node APIs the code calls), README.md rewritten for npm users (scripts/_npm_readme.ts), LICENSE;
// - test/: the test suite (tests/**), transpiled to run on Node and Bun against the built package:
//   `@propq/auth…` becomes `propq-auth…` (the package's self-reference, through its exports map)
//   and `../src/…` the built esm/ modules. test/ is not published (package.json `files`).
// The build installs only its own tools, TypeScript, @types/node and esbuild, in npm/.build-tools/
// (scripts/_build_tools.ts); the test tools and the packages the tests import are the package's
// devDependencies, which `deno task test:npm` installs in npm/node_modules when it runs.
// `--skip-missing` builds only the exports whose sources exist (while an adapter is being written).
import type TS from "typescript";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuildTools, buildTools } from "./_build_tools.ts";
import {
  type DenoConfig,
  entriesOf,
  type Entry,
  nodeEngine,
  NPM_NAME,
  packageJson,
  parseNpmSpecifier,
  PROJECT_HOME,
} from "./_npm_package.ts";
import { npmReadme } from "./_npm_readme.ts";
import { relativeTsToJs, rewriteSpecifiers, type SpecifierMap } from "./_specifiers.ts";
import { walk } from "./_walk.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "npm");
const TESTS = join(ROOT, "tests");
const TOOLS = join(OUT, ".build-tools");
/** Survive a rebuild, so that the tools and devDependencies are not installed again. */
const KEPT = new Set(["node_modules", "package-lock.json", ".build-tools"]);
/** The export that is a program: with a shebang it becomes the package's `bin`. */
const CLI = { subpath: "./cli", name: NPM_NAME };

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function clean(): Promise<void> {
  await Deno.mkdir(OUT, { recursive: true });
  for await (const item of Deno.readDir(OUT)) {
    if (!KEPT.has(item.name)) await Deno.remove(join(OUT, item.name), { recursive: true });
  }
}

async function write(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
}

function report(ts: typeof TS, diagnostics: readonly TS.Diagnostic[]): void {
  if (diagnostics.length === 0) return;
  const host: TS.FormatDiagnosticsHost = {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => "\n",
  };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  throw new Error(`TypeScript reported ${diagnostics.length} problem(s)`);
}

/** The bare names deno.json `imports` maps, as Node must spell them: `@propq/auth/file` → `propq-auth/file`. */
function bareNames(config: DenoConfig, entries: Entry[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, target] of Object.entries(config.imports ?? {})) {
    const npm = parseNpmSpecifier(target);
    const entry = entries.find((entry) => `./${entry.source}` === target);
    if (npm) names.set(name, npm.name + npm.path);
    else if (entry) names.set(name, NPM_NAME + entry.subpath.slice(1));
  }
  return names;
}

function packageName(specifier: string): string {
  return specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
}

/**
 * Transpiles tests/** into npm/test/**. Relative specifiers inside tests/ stay relative; those that
 * leave it (`../src/x.ts`, `../mod.ts`) point at the built esm/ modules, the very files the package's
 * exports reach, so internals and the public API share one module instance.
 * Returns the npm packages the tests import, and the esm/ files they reach by path.
 */
async function buildTests(
  ts: typeof TS,
  names: Map<string, string>,
): Promise<{ packages: Set<string>; reached: Set<string> }> {
  const packages = new Set<string>();
  const reached = new Set<string>();
  for await (const file of walk(TESTS)) {
    const rel = relative(TESTS, file);
    const target = join(OUT, "test", rel);
    if (!/\.[mc]?ts$/.test(file) || file.endsWith(".d.ts")) {
      await Deno.mkdir(dirname(target), { recursive: true });
      await Deno.copyFile(file, target);
      continue;
    }
    const output = target.replace(/\.([mc]?)ts$/, ".$1js");
    const map: SpecifierMap = (specifier) => {
      if (/^\.\.?\//.test(specifier)) {
        const source = resolve(dirname(file), specifier);
        if (source.startsWith(TESTS + sep)) return relativeTsToJs(specifier);
        const built = join(OUT, "esm", relative(ROOT, source)).replace(/\.ts$/, ".js");
        reached.add(built);
        const path = relative(dirname(output), built).split(sep).join("/");
        return path.startsWith(".") ? path : `./${path}`;
      }
      const mapped = names.get(specifier) ?? parseNpmSpecifier(specifier)?.name ?? specifier;
      if (/^(jsr|https?):/.test(mapped)) throw new Error(`${rel}: ${specifier} cannot be resolved on Node`);
      if (!mapped.startsWith("node:") && packageName(mapped) !== NPM_NAME) packages.add(packageName(mapped));
      return mapped;
    };
    const text = rewriteSpecifiers(ts, file, await Deno.readTextFile(file), map);
    const result = ts.transpileModule(text, {
      fileName: file,
      reportDiagnostics: true,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    });
    report(ts, result.diagnostics ?? []);
    await write(output, result.outputText);
  }
  return { packages, reached };
}

/**
 * Type-checks the entry points and emits them with their .d.ts as ES modules or CommonJS.
 * The JSDoc examples name the package as npm users import it: `@propq/auth/file` → `propq-auth/file`.
 */
function buildLibrary(
  { ts, typeRoots }: { ts: typeof TS; typeRoots: string },
  format: "esm" | "cjs",
  entries: Entry[],
  jsrName: string,
): void {
  const esm = format === "esm";
  const options: TS.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
    module: esm ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS,
    moduleResolution: esm ? ts.ModuleResolutionKind.Bundler : ts.ModuleResolutionKind.Node10,
    rewriteRelativeImportExtensions: true,
    declaration: true,
    strict: true,
    esModuleInterop: true,
    isolatedModules: true,
    skipLibCheck: true,
    noEmitOnError: true,
    types: ["node"],
    typeRoots: [typeRoots],
    rootDir: ROOT,
    outDir: join(OUT, format),
    newLine: ts.NewLineKind.LineFeed,
  };
  const program = ts.createProgram(entries.map((entry) => join(ROOT, entry.source)), options);
  report(ts, ts.getPreEmitDiagnostics(program));
  // A JSR name is `@scope/name` in [a-z0-9-]: nothing to escape.
  const jsrNameInDocs = new RegExp(`(?<!jsr:)${jsrName}(?![\\w-])`, "g");
  const result = program.emit(undefined, (fileName, text) => {
    // TypeScript rewrites `.ts` specifiers in JavaScript only; declarations need the same.
    const code = fileName.endsWith(".d.ts") ? rewriteSpecifiers(ts, fileName, text, relativeTsToJs) : text;
    const output = code.replace(jsrNameInDocs, NPM_NAME);
    Deno.mkdirSync(dirname(fileName), { recursive: true });
    Deno.writeTextFileSync(fileName, output);
  });
  report(ts, result.diagnostics);
}

/**
 * The CLI entry as the package's `bin`, once it is a program: its built ES module starts with a shebang
 * (TypeScript keeps it), and is made executable. While the entry is a placeholder without one: no `bin`.
 */
async function cliBin(entries: Entry[]): Promise<{ name: string; path: string } | undefined> {
  const entry = entries.find((entry) => entry.subpath === CLI.subpath);
  if (!entry) return undefined;
  const path = `./esm/${entry.output}.js`;
  const file = join(OUT, path);
  if (!(await Deno.readTextFile(file)).startsWith("#!/usr/bin/env node\n")) {
    console.warn(`build: no bin yet: ${entry.source} does not start with "#!/usr/bin/env node"`);
    return undefined;
  }
  if (Deno.build.os !== "windows") await Deno.chmod(file, 0o755);
  return { name: CLI.name, path };
}

/**
 * Bundles the bin into one file, in place: Node then loads one module at every start instead of the forty
 * the CLI and the library are made of, which is most of a warm `propq-auth token` run's cost beyond Node's
 * own start-up (see bench/). The `./cli` entry is a program, never imported, so nothing else changes.
 */
async function bundleBin(esbuild: BuildTools["esbuild"], path: string): Promise<void> {
  const file = join(OUT, path);
  await esbuild.build({
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
  if (Deno.build.os !== "windows") await Deno.chmod(file, 0o755);
}

/** The emitted ES modules' code, for {@linkcode nodeEngine}. */
async function* emittedCode(): AsyncGenerator<string> {
  for await (const file of walk(join(OUT, "esm"))) if (file.endsWith(".js")) yield await Deno.readTextFile(file);
}

async function build(): Promise<string> {
  const config: DenoConfig = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const entries: Entry[] = [];
  for (const entry of entriesOf(config)) {
    if (await exists(join(ROOT, entry.source))) entries.push(entry);
    else if (Deno.args.includes("--skip-missing")) console.warn(`build: skipping ${entry.subpath}: no ${entry.source}`);
    else throw new Error(`deno.json exports ${entry.subpath} from ${entry.source}, which does not exist`);
  }

  await clean();
  const tools = await buildTools(config, TOOLS);
  const tests = await buildTests(tools.ts, bareNames(config, entriesOf(config)));
  buildLibrary(tools, "esm", entries, config.name);
  buildLibrary(tools, "cjs", entries, config.name);
  await write(join(OUT, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }, null, 2) + "\n");
  const bin = await cliBin(entries);
  if (bin) await bundleBin(tools.esbuild, bin.path);
  const node = nodeEngine(await Array.fromAsync(emittedCode()));
  const manifest = packageJson(config, entries, { testPackages: tests.packages, bin, node: node.range });
  await write(join(OUT, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const names = { jsrName: config.name, npmName: NPM_NAME, repository: PROJECT_HOME.repository };
  await write(join(OUT, "README.md"), npmReadme(readme, names));
  await Deno.copyFile(join(ROOT, "LICENSE"), join(OUT, "LICENSE"));

  for (const file of tests.reached) {
    if (!await exists(file)) {
      throw new Error(`The tests import ${relative(OUT, file)}, which the package does not contain`);
    }
  }
  const summary = `${NPM_NAME}@${config.version} (${entries.map((entry) => entry.subpath).join(", ")})`;
  return `${summary}${bin ? `, bin ${bin.name}` : ""}, node ${node.range} (${node.reason})`;
}

const started = performance.now();
try {
  const built = await build();
  console.log(`build: npm/ holds ${built} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`build: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}

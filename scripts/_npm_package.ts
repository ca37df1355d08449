// The npm package's manifest, generated from deno.json: what dnt's `package` option and entry points produce.

/** The keys of deno.json the build reads. */
export interface DenoConfig {
  name: string;
  version: string;
  license?: string;
  exports: Record<string, string>;
  imports?: Record<string, string>;
}

/** One entry point: a deno.json export and where its build lands. */
export interface Entry {
  /** The export's subpath, "." or "./file". */
  subpath: string;
  /** The source, relative to the repository root without "./": "mod.ts". */
  source: string;
  /** The built module without extension, relative to esm/ and cjs/: "mod". */
  output: string;
}

/** The package's name on npm (JSR: deno.json's `name`). */
export const NPM_NAME = "propq-auth";

/**
 * Where the project lives in public. It has no public home yet: once it has one, set `repository` to the
 * https address of its git repository (no `.git`), and package.json gains `repository`, `homepage` and
 * `bugs`, and the npm README's relative links point there. deno.json cannot hold them: JSR reads it.
 */
export const PROJECT_HOME: { repository?: string } = {};

const DESCRIPTION =
  "OAuth2 client-credentials tokens for the PropQ API of Resales Online, cached for their whole life, and a fetch that carries them. Zero dependencies; Node, Deno, Bun, Cloudflare Workers.";
const KEYWORDS = ["propq", "resales-online", "oauth2", "client-credentials", "token", "cache", "fetch", "workers"];

/** What `deno task build` installs (in npm/.build-tools/) to compile: versions pinned in deno.json `imports`. */
export const BUILD_TOOLS = ["typescript", "@types/node", "esbuild"];

/**
 * What `deno task test:npm` needs on Node besides the npm packages the tests import (whose versions come
 * from deno.json `imports`): the package's devDependencies, installed in npm/node_modules when it runs.
 * miniflare is here, not in deno.json: only the workerd test on Node loads it, so Deno never fetches it.
 */
export const NODE_TEST_TOOLS: Record<string, string> = {
  "@arethetypeswrong/cli": "0.18.5",
  "bun": "1.4.5",
  "miniflare": "4.20260426.0",
  "publint": "0.3.25",
};

/** Packages `./kv` can work with but never needs: optional peer dependencies (`@deno/kv`'s `openKv()` on Node). */
const OPTIONAL_PEERS = ["@deno/kv"];

/**
 * The oldest Node the package supports unless its code needs a newer one: 20.6 runs `node --env-file`,
 * which the README's examples use; the core needs 20.0 (global `fetch` and `crypto`).
 */
const NODE_FLOOR = "20.6.0";

/** Node APIs newer than {@linkcode NODE_FLOOR} that the package might call, and the release that added each. */
const NEWER_NODE_APIS: [name: string, pattern: RegExp, since: string][] = [
  ["process.loadEnvFile", /\bloadEnvFile\s*\(/, "20.12.0"],
  ["util.parseEnv", /\bparseEnv\s*\(/, "20.12.0"],
  ["util.styleText", /\bstyleText\s*\(/, "20.12.0"],
  ["Promise.withResolvers", /\bPromise\.withResolvers\b/, "22.0.0"],
  ["Array.fromAsync", /\bArray\.fromAsync\b/, "22.0.0"],
  ["process.getBuiltinModule", /\bgetBuiltinModule\s*\(/, "22.3.0"],
];

function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/**
 * `engines.node` for the built code: {@linkcode NODE_FLOOR}, raised to the release that added the newest
 * API of {@linkcode NEWER_NODE_APIS} the code calls (the CLI reading `--env-file` with `process.loadEnvFile`
 * needs 20.12). Returns the range and why.
 */
export function nodeEngine(code: Iterable<string>): { range: string; reason: string } {
  let floor = NODE_FLOOR;
  let reason = "node --env-file";
  for (const text of code) {
    for (const [name, pattern, since] of NEWER_NODE_APIS) {
      if (compareVersions(since, floor) > 0 && pattern.test(text)) [floor, reason] = [since, name];
    }
  }
  return { range: `>=${floor}`, reason };
}

/** The entry points of deno.json `exports`, in order. */
export function entriesOf(config: DenoConfig): Entry[] {
  return Object.entries(config.exports).map(([subpath, file]) => {
    const source = file.replace(/^\.\//, "");
    return { subpath, source, output: source.replace(/\.ts$/, "") };
  });
}

/** `npm:@deno/kv@0.14.0/x` → `{ name: "@deno/kv", version: "0.14.0", path: "/x" }`. */
export function parseNpmSpecifier(specifier: string): { name: string; version: string; path: string } | undefined {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(specifier);
  return match ? { name: match[1], version: match[2] ?? "*", path: match[3] ?? "" } : undefined;
}

/** The npm packages deno.json `imports` pins, by name. */
export function pinnedNpmPackages(config: DenoConfig): Map<string, string> {
  const pinned = new Map<string, string>();
  for (const target of Object.values(config.imports ?? {})) {
    const npm = parseNpmSpecifier(target);
    if (npm) pinned.set(npm.name, npm.version);
  }
  return pinned;
}

/** `names` with the versions deno.json `imports` pins for them; `why` names who needs them in the error. */
export function pinned(config: DenoConfig, names: Iterable<string>, why: string): Record<string, string> {
  const pins = pinnedNpmPackages(config);
  const result: Record<string, string> = {};
  for (const name of names) {
    const version = pins.get(name);
    if (!version) throw new Error(`${why} the npm package "${name}": pin it in deno.json imports`);
    result[name] = version;
  }
  return result;
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1));
}

function conditions(output: string) {
  return {
    import: { types: `./esm/${output}.d.ts`, default: `./esm/${output}.js` },
    require: { types: `./cjs/${output}.d.ts`, default: `./cjs/${output}.js` },
  };
}

/** What the build found out about the package besides deno.json. */
export interface PackageFacts {
  /** The npm packages the built tests import. */
  testPackages: Iterable<string>;
  /** The command the package installs (`bin`), when its entry is a program with a shebang. */
  bin?: { name: string; path: string };
  /** `engines.node`, from {@linkcode nodeEngine}. */
  node: string;
}

function projectHome(): Record<string, unknown> {
  const repository = PROJECT_HOME.repository?.replace(/\/+$/, "");
  if (!repository) return {};
  return {
    repository: { type: "git", url: `git+${repository}.git` },
    homepage: `${repository}#readme`,
    bugs: { url: `${repository}/issues` },
  };
}

/** The package.json of the npm package. */
export function packageJson(config: DenoConfig, entries: Entry[], facts: PackageFacts): object {
  const pins = pinnedNpmPackages(config);
  const main = entries.find((entry) => entry.subpath === ".");
  if (!main) throw new Error('deno.json exports has no "." entry');
  const exports: Record<string, unknown> = {};
  for (const entry of entries) exports[entry.subpath] = conditions(entry.output);
  exports["./package.json"] = "./package.json";
  const peers = OPTIONAL_PEERS.filter((name) => pins.has(name));
  const testPackages = pinned(config, facts.testPackages, "The tests import");
  return {
    name: NPM_NAME,
    version: config.version,
    description: DESCRIPTION,
    keywords: KEYWORDS,
    license: config.license,
    ...projectHome(),
    type: "module",
    sideEffects: false,
    engines: { node: facts.node },
    exports,
    main: `./cjs/${main.output}.js`,
    module: `./esm/${main.output}.js`,
    types: `./cjs/${main.output}.d.ts`,
    ...(facts.bin ? { bin: { [facts.bin.name]: facts.bin.path } } : {}),
    files: ["esm/", "cjs/"],
    peerDependencies: Object.fromEntries(peers.map((name) => [name, `>=${pins.get(name)}`])),
    peerDependenciesMeta: Object.fromEntries(peers.map((name) => [name, { optional: true }])),
    devDependencies: sorted({ ...NODE_TEST_TOOLS, ...testPackages }),
  };
}

/** The package.json of npm/.build-tools/: the compiler and the Node types the build uses. */
export function buildToolsPackageJson(config: DenoConfig): object {
  return { private: true, devDependencies: sorted(pinned(config, BUILD_TOOLS, "The build uses")) };
}

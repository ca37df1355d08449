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

const DESCRIPTION =
  "OAuth2 client-credentials tokens for the PropQ API of Resales Online, cached for their whole life, and a fetch that carries them. Zero dependencies; Node, Deno, Bun, Cloudflare Workers.";
const KEYWORDS = ["propq", "resales-online", "oauth2", "client-credentials", "token", "cache", "fetch", "workers"];

/**
 * What the built tests and package checks need on Node, besides the npm packages the tests import
 * (whose versions come from deno.json `imports`). Pinned: a fresh machine gets exactly these.
 */
export const NODE_TOOLS: Record<string, string> = {
  "@arethetypeswrong/cli": "0.18.5",
  "@types/node": "20.19.43",
  "bun": "1.4.5",
  "publint": "0.3.25",
};

/** Packages `./kv` can work with but never needs: optional peer dependencies (`@deno/kv`'s `openKv()` on Node). */
const OPTIONAL_PEERS = ["@deno/kv"];

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

function conditions(output: string) {
  return {
    import: { types: `./esm/${output}.d.ts`, default: `./esm/${output}.js` },
    require: { types: `./cjs/${output}.d.ts`, default: `./cjs/${output}.js` },
  };
}

/** The package.json of the npm package; `testPackages` are the npm packages the built tests import. */
export function packageJson(config: DenoConfig, entries: Entry[], testPackages: Iterable<string>): object {
  const pinned = pinnedNpmPackages(config);
  const main = entries.find((entry) => entry.subpath === ".");
  if (!main) throw new Error('deno.json exports has no "." entry');
  const exports: Record<string, unknown> = {};
  for (const entry of entries) exports[entry.subpath] = conditions(entry.output);
  exports["./package.json"] = "./package.json";
  const peers = OPTIONAL_PEERS.filter((name) => pinned.has(name));
  const devDependencies: Record<string, string> = { ...NODE_TOOLS };
  for (const name of testPackages) {
    const version = pinned.get(name);
    if (!version) throw new Error(`The tests import the npm package "${name}": pin it in deno.json imports`);
    devDependencies[name] = version;
  }
  return {
    name: NPM_NAME,
    version: config.version,
    description: DESCRIPTION,
    keywords: KEYWORDS,
    license: config.license,
    type: "module",
    sideEffects: false,
    engines: { node: ">=20" },
    exports,
    main: `./cjs/${main.output}.js`,
    module: `./esm/${main.output}.js`,
    types: `./cjs/${main.output}.d.ts`,
    files: ["esm/", "cjs/"],
    peerDependencies: Object.fromEntries(peers.map((name) => [name, `>=${pinned.get(name)}`])),
    peerDependenciesMeta: Object.fromEntries(peers.map((name) => [name, { optional: true }])),
    devDependencies: Object.fromEntries(Object.entries(devDependencies).sort(([a], [b]) => a < b ? -1 : 1)),
  };
}

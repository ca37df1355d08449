// The README's "Install from source" path, walked in CI (a step of `deno task test:npm`, after the build):
// `npm pack` the package, `npm i` the tarball in a new project outside the repository, fill `.env` from
// `.env.example`, run the README's Node examples (ES module, CommonJS) with `node --env-file=.env` against
// the bundled local PropQ server, run the ES module one on Bun after `bun add <tarball>`, type-check it as
// TypeScript (`nodenext`), and run the `propq-auth` command once the package has one.
// Every command has a time limit, and the temporary projects are removed at the end.
import { delimiter, dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { startTestServer } from "../src/testing/mod.ts";
import { codeBlocks, sectionOf } from "./_npm_readme.ts";
import { type DenoConfig, NPM_NAME, pinned } from "./_npm_package.ts";
import { packTarball } from "./_pack.ts";
import { capture, NPM, type RunResult } from "./_run.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "npm");
const BUN = join(OUT, "node_modules", ".bin", "bun");
const NPM_FLAGS = ["--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"];
const VARIABLES = ["PROPQ_CLIENT_ID", "PROPQ_CLIENT_SECRET", "PROPQ_TOKEN_URL", "PROPQ_BASE_URL"];

type Server = Awaited<ReturnType<typeof startTestServer>>;

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function succeeded(result: RunResult, what: string): RunResult {
  check(result.success, `${what} exited with ${result.code}:\n${result.stdout}${result.stderr}`.trimEnd());
  return result;
}

/** The README's Node examples: the ES module and the CommonJS one of its "### Node" subsection. */
function nodeExamples(readme: string): { esm: string; cjs: string } {
  const node = sectionOf(readme, 3, "Node");
  check(node, 'README.md has no "### Node" subsection');
  const blocks = codeBlocks(node);
  const esm = blocks.find((block) => /^(ts|js|mjs)$/.test(block.lang) && block.code.includes(`from "${NPM_NAME}"`));
  const cjs = blocks.find((block) => block.code.includes(`require("${NPM_NAME}")`));
  check(esm && cjs, `README.md's Node subsection lacks an ES module or a CommonJS example using ${NPM_NAME}`);
  return { esm: esm.code, cjs: cjs.code };
}

/** `.env.example` with every PROPQ_ variable set (and uncommented): what a user does with their credentials. */
function dotEnv(example: string, values: Record<string, string>): string {
  const missing = new Set(VARIABLES);
  const text = example.replace(/^#?\s*(PROPQ_[A-Z_]+)=.*$/gm, (line, name: string) => {
    missing.delete(name);
    return name in values ? `${name}=${values[name]}` : line;
  });
  check(missing.size === 0, `.env.example lacks ${[...missing].join(", ")}`);
  return text;
}

/** The last request the server answered for the API (not the token endpoint). */
function lastApiCall(server: Server): string {
  const request = server.requests.at(-1);
  check(request, "the PropQ server got no API call");
  check(/^Bearer \S+$/.test(request.headers.authorization ?? ""), "the API call carried no Bearer token");
  return `${request.method} ${request.path}`;
}

async function walkInstallPath(work: string, server: Server, config: DenoConfig): Promise<string[]> {
  const done: string[] = [];
  const step = async (name: string, body: () => Promise<void>) => {
    const started = performance.now();
    await body();
    done.push(name);
    console.log(`  ✔ ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  };
  const app = join(work, "app");
  const home = join(work, "home");
  // The examples get their credentials from .env only: a clean environment, a home of their own.
  const clean = { PATH: [dirname(Deno.execPath()), Deno.env.get("PATH") ?? ""].join(delimiter), HOME: home };
  const runNode = (args: string[], cwd = app) =>
    capture("node", args, { cwd, clearEnv: true, env: { ...clean, XDG_CACHE_HOME: join(home, "cache") } });
  let tarball = "";

  await step("npm pack ./npm", async () => {
    tarball = await packTarball(OUT, work);
    check(tarball.endsWith(`${NPM_NAME}-${config.version}.tgz`), `unexpected tarball ${tarball}`);
  });
  await step(`npm i ./${NPM_NAME}-${config.version}.tgz in a new project`, async () => {
    await Deno.mkdir(app, { recursive: true });
    await Deno.mkdir(home, { recursive: true });
    succeeded(await capture(NPM, ["install", tarball, ...NPM_FLAGS], { cwd: app, timeoutMs: 120_000 }), "npm i");
    const installed = JSON.parse(await Deno.readTextFile(join(app, "node_modules", NPM_NAME, "package.json")));
    check(installed.version === config.version, `installed ${installed.version}, not ${config.version}`);
  });
  const examples = nodeExamples(await Deno.readTextFile(join(ROOT, "README.md")));
  const env = dotEnv(await Deno.readTextFile(join(ROOT, ".env.example")), {
    PROPQ_CLIENT_ID: String(server.clientId),
    PROPQ_CLIENT_SECRET: server.clientSecret,
    PROPQ_TOKEN_URL: server.tokenUrl,
    PROPQ_BASE_URL: server.baseUrl,
  });
  await Deno.writeTextFile(join(app, ".env"), env);

  await step("the README's ES module example: node --env-file=.env main.mjs", async () => {
    await Deno.writeTextFile(join(app, "main.mjs"), examples.esm);
    const before = server.tokenRequests;
    succeeded(await runNode(["--env-file=.env", "main.mjs"]), "node main.mjs");
    check(server.tokenRequests === before + 1, `expected one token request, got ${server.tokenRequests - before}`);
    lastApiCall(server);
  });
  await step("the README's CommonJS example, twice: the second run reuses the FileCache token", async () => {
    await Deno.writeTextFile(join(app, "main.cjs"), examples.cjs);
    const before = server.tokenRequests;
    const first = succeeded(await runNode(["--env-file=.env", "main.cjs"]), "node main.cjs");
    const second = succeeded(await runNode(["--env-file=.env", "main.cjs"]), "node main.cjs (again)");
    check(first.stdout.trim() !== "" && second.stdout === first.stdout, `unexpected output: ${first.stdout}`);
    check(server.tokenRequests === before + 1, `expected one token request, got ${server.tokenRequests - before}`);
    await Deno.stat(join(home, "cache", NPM_NAME, "tokens.json"));
  });
  await step("TypeScript nodenext type-checks the ES module example", async () => {
    const tools = Object.entries(pinned(config, ["typescript", "@types/node"], "The type-check uses"));
    const args = ["install", "--no-save", ...tools.map(([name, version]) => `${name}@${version}`), ...NPM_FLAGS];
    succeeded(await capture(NPM, args, { cwd: app, timeoutMs: 180_000 }), "npm i typescript");
    await Deno.writeTextFile(join(app, "main.mts"), examples.esm);
    const compilerOptions = { module: "nodenext", target: "es2022", strict: true, noEmit: true, types: ["node"] };
    await Deno.writeTextFile(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["main.mts"] }));
    succeeded(await runNode([join("node_modules", "typescript", "bin", "tsc"), "-p", "."]), "tsc");
  });
  const manifest = JSON.parse(await Deno.readTextFile(join(app, "node_modules", NPM_NAME, "package.json")));
  if (manifest.bin?.[NPM_NAME]) {
    await step(`the ${NPM_NAME} command: ${NPM_NAME} token --env-file .env --no-cache`, async () => {
      const bin = join(app, "node_modules", ".bin", NPM_NAME);
      const before = server.tokenRequests;
      // Run as a command, not through node: the shebang and the executable bit must work.
      const env = { ...clean, XDG_CACHE_HOME: join(home, "cache") };
      const run = await capture(bin, ["token", "--env-file", ".env", "--no-cache"], { cwd: app, clearEnv: true, env });
      const result = succeeded(run, NPM_NAME);
      check(/^\S+\n?$/.test(result.stdout), `expected a bare token on stdout, got: ${result.stdout}`);
      check(server.tokenRequests === before + 1, "the command made no token request");
    });
  }
  try {
    await Deno.stat(BUN);
  } catch {
    console.log(`  - Bun: not installed in npm/node_modules, skipped`);
    return done;
  }
  await step(`bun add ./${NPM_NAME}-${config.version}.tgz, then bun main.mjs (Bun reads .env itself)`, async () => {
    const bunApp = join(work, "bun-app");
    await Deno.mkdir(bunApp);
    const bunEnv = { ...clean, BUN_INSTALL_CACHE_DIR: join(work, "bun-cache") };
    const add = await capture(BUN, ["add", tarball], { cwd: bunApp, clearEnv: true, env: bunEnv, timeoutMs: 120_000 });
    succeeded(add, "bun add");
    await Deno.writeTextFile(join(bunApp, ".env"), env);
    await Deno.writeTextFile(join(bunApp, "main.mjs"), examples.esm);
    const before = server.tokenRequests;
    const result = await capture(BUN, ["main.mjs"], { cwd: bunApp, clearEnv: true, env: bunEnv, timeoutMs: 60_000 });
    succeeded(result, "bun main.mjs");
    check(server.tokenRequests === before + 1, `expected one token request, got ${server.tokenRequests - before}`);
    lastApiCall(server);
  });
  return done;
}

const config: DenoConfig = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
const work = await Deno.makeTempDir({ dir: tmpdir(), prefix: `${NPM_NAME}-install-` });
const server = await startTestServer();
console.log(`install path, in ${work} (outside the repository):`);
let failure: unknown;
let passed: string[] = [];
try {
  passed = await walkInstallPath(work, server, config);
} catch (error) {
  failure = error;
} finally {
  await server.close();
  await Deno.remove(work, { recursive: true });
}
if (failure) {
  console.error(`  ✖ ${failure instanceof Error ? failure.message : failure}`);
  console.log(`install path: ${passed.length} passed, 1 failed`);
  Deno.exit(1);
}
console.log(`install path: ${passed.length} passed, 0 failed`);

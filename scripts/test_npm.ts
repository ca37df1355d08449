// `deno task test:npm`: checks and tests the package that `deno task build` wrote to npm/.
// 0. installs the test tools and the packages the tests import (the package's devDependencies) in
//    npm/node_modules: the build fetches only its compiler, so only this task pays for Bun, Miniflare…;
// 1. publint and `attw --pack --profile node16`: the package as npm publishes it;
// 2. `bun test`: the compiled suite on Bun (its node:test support);
// 3. the README's install path on a packed tarball, outside the repository (scripts/try_install.ts);
// 4. `node --test`: the compiled suite on Node, including the package smoke test (every entry
//    with `import` and `require`) and the workerd test; last, so its summary closes the output.
import { basename, delimiter, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { NPM, run } from "./_run.ts";
import { walk } from "./_walk.ts";

const OUT = fileURLToPath(new URL("../npm/", import.meta.url));
const TESTS = join(OUT, "test");
const BIN = join(OUT, "node_modules", ".bin");
const TRY_INSTALL = fileURLToPath(new URL("./try_install.ts", import.meta.url));

// Tests that start the other runtime (a Node and a Deno process sharing one KV store) find this Deno.
const env = { PATH: [dirname(Deno.execPath()), BIN, Deno.env.get("PATH") ?? ""].join(delimiter) };

async function step(label: string, command: string, args: string[], cwd = OUT): Promise<boolean> {
  console.log(`\n── ${label}: ${[command, ...args].join(" ")}`);
  const started = performance.now();
  const success = await run(command, args, { cwd, env, timeoutMs: 900_000 });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (label !== "node") console.log(`── ${label}: ${success ? "ok" : "FAILED"} in ${seconds} s`);
  return success;
}

try {
  await Deno.stat(join(OUT, "package.json"));
} catch {
  console.error("npm/ is not built: run `deno task build` first");
  Deno.exit(1);
}

const install = ["install", "--no-audit", "--no-fund", "--loglevel=error"];
if (!await step("install", NPM, install)) Deno.exit(1);

const files: string[] = [];
for await (const file of walk(TESTS)) {
  const isTest = /[._]test\.[mc]?js$/.test(basename(file)) && !relative(TESTS, file).split(sep).includes("fixtures");
  if (isTest) files.push(relative(OUT, file));
}

const failed: string[] = [];
const steps: [label: string, command: string, args: string[], cwd?: string][] = [
  ["publint", join(BIN, "publint"), ["--strict"]],
  ["attw", join(BIN, "attw"), ["--pack", ".", "--profile", "node16"]],
  ["bun", join(BIN, "bun"), ["test", "--timeout", "60000"], TESTS],
  ["install path", Deno.execPath(), ["run", "--allow-all", TRY_INSTALL]],
  ["node", "node", ["--test", "--test-reporter=spec", ...files]],
];
for (const [label, command, args, cwd] of steps) if (!await step(label, command, args, cwd)) failed.push(label);
if (failed.length > 0) {
  console.error(`test:npm: ${failed.join(", ")} failed`);
  Deno.exit(1);
}

// `deno task test:npm`: checks and tests the package that `deno task build` wrote to npm/.
// 1. publint and `attw --pack --profile node16`: the package as npm publishes it;
// 2. `bun test`: the compiled suite on Bun (its node:test support);
// 3. `node --test`: the compiled suite on Node, including the package smoke test (every entry
//    with `import` and `require`) and the workerd test; last, so its summary closes the output.
// Tools come from npm/node_modules (the package's pinned devDependencies).
import { basename, delimiter, dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { walk } from "./_walk.ts";

const OUT = fileURLToPath(new URL("../npm/", import.meta.url));
const TESTS = join(OUT, "test");
const BIN = join(OUT, "node_modules", ".bin");

// Tests that start the other runtime (a Node and a Deno process sharing one KV store) find this Deno.
const env = { PATH: [dirname(Deno.execPath()), BIN, Deno.env.get("PATH") ?? ""].join(delimiter) };

async function run(label: string, command: string, args: string[], cwd = OUT): Promise<boolean> {
  console.log(`\n── ${label}: ${[command, ...args].join(" ")}`);
  const started = performance.now();
  const { success } = await new Deno.Command(command, { args, cwd, env, stdout: "inherit", stderr: "inherit" })
    .output();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (label !== "node") console.log(`── ${label}: ${success ? "ok" : "FAILED"} in ${seconds} s`);
  return success;
}

try {
  await Deno.stat(join(OUT, "package.json"));
  await Deno.stat(BIN);
} catch {
  console.error("npm/ is not built: run `deno task build` first");
  Deno.exit(1);
}

const files: string[] = [];
for await (const file of walk(TESTS)) {
  const isTest = /[._]test\.[mc]?js$/.test(basename(file)) && !relative(TESTS, file).split(sep).includes("fixtures");
  if (isTest) files.push(relative(OUT, file));
}

const failed: string[] = [];
const step = async (label: string, command: string, args: string[], cwd?: string) => {
  if (!await run(label, command, args, cwd)) failed.push(label);
};
await step("publint", join(BIN, "publint"), ["--strict"]);
await step("attw", join(BIN, "attw"), ["--pack", ".", "--profile", "node16"]);
await step("bun", join(BIN, "bun"), ["test", "--timeout", "60000"], TESTS);
await step("node", "node", ["--test", "--test-reporter=spec", ...files]);
if (failed.length > 0) {
  console.error(`test:npm: ${failed.join(", ")} failed`);
  Deno.exit(1);
}

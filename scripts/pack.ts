// `deno task pack`: the npm package as a tarball, propq-auth-<version>.tgz in the repository root
// (git-ignored), for `npm i ./propq-auth-<version>.tgz` or `bun add ./propq-auth-<version>.tgz`:
// README "Install from source". Builds npm/ first when it is missing or older than its sources.
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { packTarball, staleBuild } from "./_pack.ts";
import { run } from "./_run.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

try {
  const stale = await staleBuild(ROOT);
  if (stale) {
    console.log(`pack: building first (${stale})`);
    const build = join(ROOT, "scripts", "build_npm.ts");
    if (!await run(Deno.execPath(), ["run", "--allow-all", build], { cwd: ROOT })) throw new Error("the build failed");
  }
  const tarball = await packTarball(join(ROOT, "npm"), ROOT);
  const size = ((await Deno.stat(tarball)).size / 1024).toFixed(1);
  console.log(`pack: ${relative(ROOT, tarball)} (${size} kB). In your project: npm i ${tarball}`);
} catch (error) {
  console.error(`pack: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}

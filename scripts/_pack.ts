// `npm pack` of the built package, and whether npm/ is older than what it is built from.
import { join } from "node:path";
import { capture, NPM } from "./_run.ts";
import { walk } from "./_walk.ts";

/** Packs the package in `out` with `npm pack` into `destination`; returns the tarball's path. */
export async function packTarball(out: string, destination: string): Promise<string> {
  const args = ["pack", out, "--pack-destination", destination, "--json", "--loglevel=error"];
  const result = await capture(NPM, args, { timeoutMs: 120_000 });
  if (!result.success) throw new Error(`npm pack ${out} failed: ${result.stderr.trim()}`);
  const [{ filename }] = JSON.parse(result.stdout) as { filename: string }[];
  return join(destination, filename);
}

async function modified(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Why npm/ must be built again (missing, or a source newer than it), or undefined when it is current. */
export async function staleBuild(root: string): Promise<string | undefined> {
  const built = await modified(join(root, "npm", "package.json"));
  if (built === 0) return "npm/ is not built";
  const sources = ["mod.ts", "deno.json", "README.md", "LICENSE"].map((name) => join(root, name));
  for (const dir of ["src", "scripts"]) for await (const file of walk(join(root, dir))) sources.push(file);
  for (const source of sources) {
    if (await modified(source) > built) return `${source.slice(root.length)} is newer than npm/`;
  }
  return undefined;
}

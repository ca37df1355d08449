import { join } from "node:path";

/** Every file under `dir`, depth first, in name order (so builds and test runs are repeatable). */
export async function* walk(dir: string): AsyncGenerator<string> {
  const items = [];
  for await (const item of Deno.readDir(dir)) items.push(item);
  items.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const item of items) {
    const path = join(dir, item.name);
    if (item.isDirectory) yield* walk(path);
    else if (item.isFile) yield path;
  }
}

// The README inside the npm package (`deno test` skips tests/npm/: this runs on Node and Bun from npm/test/).
// The build derives it from the repository's README.md (scripts/_npm_readme.ts): npm users read it on the
// package page and in node_modules, where the repository's Deno tasks mean nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const NAME = "propq-auth";
const require = createRequire(import.meta.url);
const packaged = await readFile(join(dirname(require.resolve(`${NAME}/package.json`)), "README.md"), "utf8");
/** npm/test/npm/ → the repository, which holds the README the package's one is made from. */
const repository = await readFile(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");

/** The `## ` titles of a markdown text, outside code blocks. */
function titles(markdown: string): string[] {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").match(/^## .+$/gm) ?? [];
}

test("the npm README opens with npm i propq-auth and the Node example", () => {
  const opening = packaged.split(/^## /m)[1] ?? "";
  const node = opening.split(/^### /m)[1] ?? "";
  assert.match(node, /^Node/, "the first subsection is Node's");
  assert.match(node, new RegExp(`npm i ${NAME}\\b`));
  assert.match(node, new RegExp(`from "${NAME}"`), "an ES module example");
  assert.match(node, new RegExp(`require\\("${NAME}"\\)`), "a CommonJS example");
});

test("the npm README asks for no Deno task and imports the package by its npm name", () => {
  assert.doesNotMatch(packaged, /deno task/);
  assert.doesNotMatch(packaged, /from "@propq\/auth/, "the JSR name appears only after jsr:");
  assert.doesNotMatch(packaged, /\]\((?!https?:|#)[^)]+\)/, "no link relative to the repository");
});

test("the npm README is README.md without its repository sections, not a second copy", () => {
  const kept = titles(packaged);
  assert.ok(kept.length >= 5, kept.join(", "));
  for (const title of kept) assert.ok(titles(repository).includes(title), `${title} is not in README.md`);
  for (const title of titles(repository)) {
    const repositoryOnly = /^## (Two commands|Install from source|Development|Benchmarks)/.test(title);
    assert.equal(kept.includes(title), !repositoryOnly, title);
  }
});

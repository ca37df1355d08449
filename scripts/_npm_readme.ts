// The npm package's README, derived from README.md by the build: npm users get their own opening
// (`npm i propq-auth` and the Node example first) and none of the sections about working on this
// repository, whose Deno tasks they cannot run from the package. No second hand-written copy.

/** Level-2 sections about the repository rather than the package, by the start of their title. */
const REPOSITORY_SECTIONS = ["Two commands", "Install from source", "Development", "Benchmarks"];

interface Section {
  title: string;
  /** The heading line and everything up to the next heading of its level. */
  text: string;
}

/** Splits markdown at its headings of one level, ignoring `#` lines inside fenced code. */
function split(markdown: string, level: number): { head: string; sections: Section[] } {
  const marker = "#".repeat(level) + " ";
  const sections: Section[] = [];
  let head = "";
  let fence: string | undefined;
  for (const line of markdown.split(/(?<=\n)/)) {
    const opening = /^(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && opening) fence = opening;
    else if (fence !== undefined && line.trimEnd() === fence) fence = undefined;
    else if (fence === undefined && line.startsWith(marker)) {
      sections.push({ title: line.slice(marker.length).trim(), text: "" });
    }
    if (sections.length === 0) head += line;
    else sections[sections.length - 1].text += line;
  }
  return { head, sections };
}

function join({ head, sections }: { head: string; sections: Section[] }): string {
  return head + sections.map((section) => section.text.replace(/\n*$/, "\n\n")).join("");
}

/** Where the README's relative links go: the repository's files, or plain text without a public home. */
function absoluteLinks(markdown: string, repository: string | undefined): string {
  return markdown.replace(/\[([^\]]+)\]\((?!https?:|#|mailto:)([^)\s]+)\)/g, (_, text: string, path: string) => {
    return repository ? `[${text}](${repository}/blob/HEAD/${path.replace(/^\.\//, "")})` : text;
  });
}

/**
 * The README of the npm package from the repository's README.md: the repository sections dropped, the
 * section holding the Node instructions moved first with its Node subsection first, `@propq/auth` (the
 * JSR name, kept after `jsr:`) spelled `propq-auth`, relative links made absolute (or plain text).
 * Throws when the result would not open with `npm i propq-auth` or still asks for a Deno task.
 */
export function npmReadme(readme: string, options: { jsrName: string; npmName: string; repository?: string }): string {
  const document = split(readme, 2);
  document.sections = document.sections.filter((section) => {
    return !REPOSITORY_SECTIONS.some((title) => section.title.toLowerCase().startsWith(title.toLowerCase()));
  });
  const usage = document.sections.findIndex((section) => {
    return split(section.text, 3).sections.some((sub) => sub.title.startsWith("Node"));
  });
  if (usage === -1) throw new Error('README.md has no "### Node…" subsection to open the npm README with');
  const parts = split(document.sections[usage].text, 3);
  const node = parts.sections.findIndex((sub) => sub.title.startsWith("Node"));
  parts.sections.unshift(...parts.sections.splice(node, 1));
  document.sections.unshift({ ...document.sections.splice(usage, 1)[0], text: join(parts) });

  const jsrName = new RegExp(`(?<!jsr:)${options.jsrName}(?![\\w-])`, "g");
  const result = absoluteLinks(join(document).replace(jsrName, options.npmName), options.repository)
    .replace(/\n+$/, "\n");
  const install = `npm i ${options.npmName}`;
  const opening = split(result, 3).sections[0]?.text ?? "";
  if (!opening.includes(install)) throw new Error(`the npm README's first subsection lacks \`${install}\``);
  const task = /deno task \S+/.exec(result);
  if (task) throw new Error(`the npm README still says \`${task[0]}\`: move it to a repository section`);
  return result;
}

/** The text of the first section of `level` whose title starts with `title`, heading included. */
export function sectionOf(markdown: string, level: number, title: string): string | undefined {
  return split(markdown, level).sections.find((section) => section.title.startsWith(title))?.text;
}

/** The fenced code blocks of `markdown`, with their info string's first word. */
export function codeBlocks(markdown: string): { lang: string; code: string }[] {
  const blocks: { lang: string; code: string }[] = [];
  for (const match of markdown.matchAll(/^(`{3,})([\w-]*)[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm)) {
    blocks.push({ lang: match[2], code: match[3] });
  }
  return blocks;
}

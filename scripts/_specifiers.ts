// Rewrites the module specifiers of one TypeScript or declaration file: the transform dnt applies
// so that Deno's `./x.ts` and mapped names become what Node resolves.
import type TS from "typescript";

/** Maps one specifier to its replacement; returning it unchanged keeps it. */
export type SpecifierMap = (specifier: string) => string;

function specifierNodes(ts: typeof TS, source: TS.SourceFile): TS.StringLiteralLike[] {
  const found: TS.StringLiteralLike[] = [];
  const visit = (node: TS.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteralLike(node.moduleSpecifier)) found.push(node.moduleSpecifier);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument) && ts.isStringLiteralLike(argument.literal)) found.push(argument.literal);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0])) {
      // import("…") and require("…"), the latter for tests that load the CommonJS build.
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) {
        found.push(node.arguments[0]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Returns `text` with every import, export, `import()`, `import("…")` type and `require("…")` specifier mapped.
 * `ts` is the compiler the build installed (scripts/_typescript.ts).
 */
export function rewriteSpecifiers(ts: typeof TS, fileName: string, text: string, map: SpecifierMap): string {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  let result = "";
  let last = 0;
  for (const node of specifierNodes(ts, source)) {
    const replacement = map(node.text);
    if (replacement === node.text) continue;
    result += text.slice(last, node.getStart(source)) + JSON.stringify(replacement);
    last = node.getEnd();
  }
  return result + text.slice(last);
}

/** `./a.ts` → `./a.js` for relative specifiers; anything else unchanged. */
export function relativeTsToJs(specifier: string): string {
  if (!/^\.\.?\//.test(specifier) || specifier.endsWith(".d.ts")) return specifier;
  return specifier.replace(/\.([mc]?)ts$/, ".$1js");
}

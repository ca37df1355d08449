/**
 * Server text that may be quoted in an error: short, printable, and never
 * holding the client secret in any form a server might echo it in.
 *
 * @module
 */

const MAX_TEXT = 200;
// Control characters would let a hostile answer forge lines in a log.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function decodePercent(text: string): string {
  return text.replace(/(%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

function decodeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (entity, name: string) => {
    const lower = name.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(parseInt(lower.slice(2), 16) % 0x110000);
    if (lower.startsWith("#")) return String.fromCodePoint(Number(lower.slice(1)) % 0x110000);
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[lower] ?? entity;
  });
}

function decodeJson(text: string): string {
  return text.replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\\(["\\/])/g, "$1");
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The parts of the secret's Base64 that appear whatever the alignment: the
 * secret encoded after 0, 1 or 2 other bytes, without the edge characters
 * those bytes or the following ones change.
 */
function base64Forms(secret: string): string[] {
  const forms: string[] = [];
  for (const pad of ["", "\0", "\0\0"]) {
    const encoded = base64(pad + secret).replace(/=+$/, "");
    const core = encoded.slice(pad.length === 0 ? 0 : pad.length + 1, encoded.length - 2);
    if (core.length >= 4) forms.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return forms;
}

/**
 * Whether `text` holds `secret` as it is, percent-encoded (either case, `+`
 * for spaces), HTML- or JSON-escaped, in Base64 or Base64url, or in any mix
 * of these a server's echo of the form body could produce.
 */
export function mentionsSecret(text: string, secret: string): boolean {
  if (secret === "") return false;
  const plus = text.replace(/\+/g, " ");
  const views = new Set<string>();
  for (const start of [text, plus]) {
    for (const view of [start, decodePercent(start), decodeHtml(start), decodeJson(start)]) {
      views.add(view);
      views.add(decodePercent(decodeHtml(view)));
      views.add(decodeHtml(decodePercent(view)));
    }
  }
  for (const view of views) if (view.includes(secret)) return true;
  return base64Forms(secret).some((form) => text.includes(form));
}

/**
 * `text` fit to quote in an error: `undefined` when it is not a non-empty
 * string or when it mentions the secret in any form (withheld rather than
 * patched), else without control characters and at most 200 characters.
 */
export function quotable(text: unknown, secret: string): string | undefined {
  if (typeof text !== "string" || text === "" || mentionsSecret(text, secret)) return undefined;
  const clean = text.replace(CONTROL, " ").trim();
  return clean === "" ? undefined : clean.length > MAX_TEXT ? `${clean.slice(0, MAX_TEXT - 1)}…` : clean;
}

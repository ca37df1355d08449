/**
 * `propq-auth api <path>`: one authenticated call, like `gh api`: the body on
 * stdout, exit 1 on a non-2xx answer.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { GLOBAL_HELP, noMoreArguments, parseCommand } from "./_args.ts";
import { baseUrl, loadEnvFiles, openClient } from "./_client.ts";
import { causes, Failure, type Io, UsageError } from "./_io.ts";

/** The help of `propq-auth api`. */
export const API_USAGE = `Make one authenticated call to the PropQ API and print the answer's body.

USAGE
  propq-auth api <path> [-X METHOD] [-d JSON | -d @file | -d @-] [-i]

EXAMPLES
  $ propq-auth api /v1/developments/1234/units
  $ propq-auth api /v1/developments/1234/units/update-by-name \\
      -d '{"UntName":"A-101","UntStatus":4,"UntPrice":350000,"UntDirections":["South"]}'
  $ propq-auth api /v1/developments/1234/units/update-by-name -d @unit.json -i
  $ jq -c . unit.json | propq-auth api /v1/developments/1234/units/update-by-name -d @-

ARGUMENTS
  <path>  Relative to PROPQ_BASE_URL (default https://api.propq.com); a URL of another origin is refused

FLAGS
  -X, --method <METHOD>  HTTP method (default GET, or POST with -d)
  -d, --data <body>      JSON body: inline, @file, or @- for stdin; checked as JSON before sending
  -i, --include          Print the status line and the response headers before the body

Exit status: 0 for a 2xx answer, 1 otherwise (or when no token can be had), 2 for a usage error.

${GLOBAL_HELP}`;

const OPTIONS = {
  method: { type: "string", short: "X" },
  data: { type: "string", short: "d" },
  include: { type: "boolean", short: "i" },
} as const;

const HINTS: Record<number, string> = {
  400: "PropQ could not process the request",
  401: "the token was refused, even a fresh one: check that this client may use the API",
  403: "this client is not allowed to make this call",
  404: "no such route: check the path",
  419: "wrong HTTP method for this route: check -X",
  422: "validation failed: the body lists the errors",
  429: "too many requests: wait (see Retry-After with -i) and try again",
};

function hint(status: number): string {
  if (status >= 300 && status < 400) return "PropQ redirects a request it refuses (e.g. without a JSON body type)";
  return HINTS[status] ?? (status >= 500 ? "PropQ failed: try again later" : "");
}

async function body(data: string, io: Io): Promise<string> {
  let text = data;
  if (data === "@-") text = new TextDecoder().decode(await io.readStdin());
  else if (data.startsWith("@")) {
    try {
      text = await readFile(data.slice(1), "utf8");
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new UsageError(`-d ${data}: ${code === "ENOENT" ? "no such file" : `cannot read it (${code})`}`, API_USAGE);
    }
  }
  try {
    JSON.parse(text);
  } catch (error) {
    const source = data.startsWith("@") ? `-d ${data}` : "-d";
    throw new UsageError(`${source} is not valid JSON (${(error as Error).message}); nothing was sent`, API_USAGE);
  }
  return text;
}

/** Runs `propq-auth api`; resolves with the exit code. */
export async function api(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS, API_USAGE);
  if (values.help) {
    io.out(API_USAGE);
    return 0;
  }
  const [path] = positionals;
  if (path === undefined || path === "") {
    throw new UsageError("missing <path>, e.g. /v1/developments/1234/units", API_USAGE);
  }
  noMoreArguments(positionals, 1, API_USAGE);
  const method = (values.method ?? (values.data === undefined ? "GET" : "POST")).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new UsageError(`-X ${values.method}: not an HTTP method`, API_USAGE);
  if (values.data !== undefined && (method === "GET" || method === "HEAD")) {
    throw new UsageError(`-d cannot go with ${method}: use -X POST (the default with -d) or another method`, API_USAGE);
  }
  const data = values.data === undefined ? undefined : await body(values.data, io);
  loadEnvFiles(values["env-file"], API_USAGE);
  const client = openClient(values, io);
  try {
    let response: Response;
    try {
      // "manual": PropQ answers a refused request with a redirect to its home page; show it, do not follow.
      response = await client.fetch(path, { method, body: data, redirect: "manual" });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      throw new Failure(`cannot reach the PropQ API at ${baseUrl()}: ${causes(error)}\nFix: check PROPQ_BASE_URL.`);
    }
    if (values.include) {
      const headers = [...response.headers].map(([name, value]) => `${name}: ${value}\n`).join("");
      io.out(`HTTP ${response.status} ${response.statusText}\n${headers}\n`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    io.out(bytes);
    if (io.outIsTTY && bytes.length > 0 && bytes[bytes.length - 1] !== 10) io.out("\n");
    if (response.ok) return 0;
    const why = hint(response.status);
    io.err(`propq-auth: PropQ API answered ${response.status} ${response.statusText}${why ? `: ${why}` : ""}\n`);
    return 1;
  } finally {
    await client.settled();
  }
}

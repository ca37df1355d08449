/**
 * The client every command uses: credentials from the environment or
 * `--env-file`, tokens in the shared FileCache, and failures worded with
 * their fix. Only the public API: what any user of the package could write.
 *
 * @module
 */

import process from "node:process";
import { createClient, MemoryCache, PropQApiError, PropQAuthError, type PropQClient } from "../../mod.ts";
import { FileCache } from "../adapters/file_cache.ts";
import type { GlobalValues } from "./_args.ts";
import { causes, Failure, type Io, UsageError } from "./_io.ts";

const ENV_HELP = "set it in the environment, or in a file passed with --env-file (e.g. --env-file .env)";

/** What a PropQ client failure means for the user, by `PropQAuthError.code`. */
const FIXES: Record<string, string> = {
  config: "Fix: correct the variable in the environment, or in the file passed with --env-file.",
  invalid_client: "Fix: check PROPQ_CLIENT_ID and PROPQ_CLIENT_SECRET (after a secret rotation, use the new one).",
  invalid_request: "Fix: PROPQ_CLIENT_ID must be your numeric client id, e.g. 12345.",
  invalid_response: "Fix: check PROPQ_TOKEN_URL; PropQ's is https://api.propq.com/oauth/token.",
  network_error: "Fix: check PROPQ_TOKEN_URL and the network connection.",
  timeout: "Fix: try again; check PROPQ_TOKEN_URL if it persists.",
  http_error: "Fix: the token endpoint is failing; try again later, and check PROPQ_TOKEN_URL if it persists.",
  foreign_origin: "Fix: give a path such as /v1/developments/1234, or a URL on PROPQ_BASE_URL.",
};

/**
 * Loads `--env-file` files. Variables already set win, as with `node
 * --env-file` and `deno run --env-file` (Deno's `loadEnvFile` alone would
 * override them).
 */
export function loadEnvFiles(paths: readonly string[] = [], usage: string): void {
  const before = { ...process.env };
  for (const path of paths) {
    try {
      process.loadEnvFile(path);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = code === "ENOENT" ? "no such file" : `cannot read it (${code ?? (error as Error).message})`;
      throw new UsageError(`--env-file ${path}: ${reason}`, usage);
    }
  }
  for (const [name, value] of Object.entries(before)) {
    if (value !== undefined && process.env[name] !== value) process.env[name] = value;
  }
}

/**
 * Opens the client the global flags ask for. Every command awaits `client.settled()` before it returns:
 * the library hands out a token without waiting for the cache write, and the process must not end first.
 */
export function openClient(values: GlobalValues, io: Pick<Io, "err">): PropQClient {
  for (const [name, example] of [["PROPQ_CLIENT_ID", "12345"], ["PROPQ_CLIENT_SECRET", "…"]]) {
    if (!process.env[name]) throw new Failure(`${name} is not set: ${ENV_HELP}, e.g. ${name}=${example}`);
  }
  const warn = (error: Error) => io.err(`propq-auth: warning: ${error.message}\n`);
  const cache = values["no-cache"] ? new MemoryCache() : new FileCache(undefined, { onError: warn });
  return createClient({ cache });
}

/** The API's base URL as the client resolves it, for messages. */
export function baseUrl(): string {
  return process.env.PROPQ_BASE_URL || "https://api.propq.com";
}

/** A failure as the user reads it: what went wrong, then how to fix it. Never the secret. */
export function explain(error: unknown): string {
  if (error instanceof Failure || error instanceof PropQApiError) return error.message;
  if (error instanceof PropQAuthError) {
    const hint = error.hint === undefined ? "" : ` (${error.hint})`;
    const fix = FIXES[error.code] ?? "";
    return `${error.message}${hint}${fix === "" ? "" : `\n${fix}`}`;
  }
  return `unexpected error: ${causes(error)}`;
}

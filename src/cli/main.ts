#!/usr/bin/env node
/**
 * The `propq-auth` command: PropQ API tokens for curl and Postman, one-off
 * authenticated calls, and bulk unit updates from a spreadsheet. A thin layer
 * over the package's public API; tokens are kept in the shared token cache
 * file (the `FileCache` of `@propq/auth/file`), so a thousand runs make one
 * token request.
 *
 * ```sh
 * npx propq-auth token                              # Node: the package's bin
 * deno run -A jsr:@propq/auth/cli token             # Deno
 * deno install -g -A -n propq-auth jsr:@propq/auth/cli
 *
 * curl -H "$(propq-auth token --header)" https://api.propq.com/v1/developments/1234/units
 * propq-auth api /v1/developments/1234/units/update-by-name -d @unit.json
 * propq-auth units update 1234 prices.csv --dry-run
 * propq-auth units update 1234 prices.csv --report report.json
 * propq-auth units update 1234 prices.csv --only-failed report.json --report report.json
 * ```
 *
 * Credentials come from `PROPQ_CLIENT_ID` and `PROPQ_CLIENT_SECRET` (and
 * optionally `PROPQ_TOKEN_URL`, `PROPQ_BASE_URL`), or a file given with
 * `--env-file`; never from arguments, which other users of the machine can
 * see. Data goes to stdout, diagnostics and progress to stderr. Exit status:
 * 0 success, 1 an API or auth failure, 2 a usage error (with the usage text).
 * `propq-auth --help` and `propq-auth <command> --help` show the rest.
 *
 * This module runs the command when loaded; it exports nothing. Use the
 * package's library entry points from code.
 *
 * @module
 */

import process from "node:process";
import { processIo } from "./_io.ts";
import { run } from "./_run.ts";

// `propq-auth api … | head` closes stdout early: that ends the output, not in a crash.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

// Never process.exit(): it would cut short a token cache write or a report still being written (every
// command also awaits client.settled() before it returns).
run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});

/**
 * `propq-auth token`: prints an access token, as `gcloud auth
 * print-access-token` (bare), `az account get-access-token` (JSON with an
 * epoch expiry) and `step oauth --header` do.
 *
 * @module
 */

import { GLOBAL_HELP, noMoreArguments, parseCommand } from "./_args.ts";
import { loadEnvFiles, openClient } from "./_client.ts";
import { type Io, UsageError } from "./_io.ts";

/** The help of `propq-auth token`. */
export const TOKEN_USAGE = `Print an access token for the PropQ API: the cached one while it lasts, else a new one.

USAGE
  propq-auth token [--json | --header] [--force]

EXAMPLES
  $ propq-auth token
  $ curl -H "$(propq-auth token --header)" https://api.propq.com/v1/developments/1234/units
  $ propq-auth token --json | jq .expires_at
  $ propq-auth token --env-file .env --force

FLAGS
  --json    Print {"access_token","token_type","expires_in","expires_at"}; expires_at in epoch seconds
  --header  Print "Authorization: Bearer <token>", for curl -H
  --force   Ask PropQ for a new token even when the cached one is still good

${GLOBAL_HELP}`;

const OPTIONS = {
  json: { type: "boolean" },
  header: { type: "boolean" },
  force: { type: "boolean" },
} as const;

/** Runs `propq-auth token`; resolves with the exit code. */
export async function token(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS, TOKEN_USAGE);
  if (values.help) {
    io.out(TOKEN_USAGE);
    return 0;
  }
  noMoreArguments(positionals, 0, TOKEN_USAGE);
  if (values.json && values.header) throw new UsageError("--json and --header cannot be combined", TOKEN_USAGE);
  loadEnvFiles(values["env-file"], TOKEN_USAGE);
  const client = openClient(values, io);
  try {
    const info = await client.getTokenInfo({ forceRefresh: values.force === true });
    if (values.json) {
      io.out(`${
        JSON.stringify({
          access_token: info.accessToken,
          token_type: "Bearer",
          expires_in: Math.max(0, Math.floor((info.expiresAt - Date.now()) / 1000)),
          expires_at: Math.floor(info.expiresAt / 1000),
        })
      }\n`);
    } else {
      io.out(values.header ? `Authorization: Bearer ${info.accessToken}\n` : `${info.accessToken}\n`);
    }
    return 0;
  } finally {
    await client.settled();
  }
}

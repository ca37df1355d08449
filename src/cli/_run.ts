/**
 * The `propq-auth` command line: finds the command, runs it, and turns what
 * went wrong into a message on stderr and an exit code (0 ok, 1 an API or
 * auth failure, 2 a usage error).
 *
 * @module
 */

import { GLOBAL_HELP, splitCommand } from "./_args.ts";
import { explain } from "./_client.ts";
import { type Io, UsageError } from "./_io.ts";
import { token } from "./_token.ts";

type Command = (args: string[], io: Io) => Promise<number>;

/** The top-level help. */
export const USAGE = `Tokens and calls for the PropQ API (Resales Online), from the command line.

USAGE
  propq-auth <command> [flags]

EXAMPLES
  $ export PROPQ_CLIENT_ID=12345 PROPQ_CLIENT_SECRET=...
  $ curl -H "$(propq-auth token --header)" https://api.propq.com/v1/developments/1234/units
  $ propq-auth api /v1/developments/1234/units
  $ propq-auth units update 1234 prices.csv --dry-run
  $ propq-auth --env-file .env units update 1234 prices.csv --report report.json

COMMANDS
  token         Print an access token (bare, --json or --header)
  api <path>    Make one authenticated call and print the answer
  units update  Update many units from a CSV, JSON or NDJSON file

ENVIRONMENT
  PROPQ_CLIENT_ID      Your PropQ client id, a number
  PROPQ_CLIENT_SECRET  Your PropQ client secret (never pass it as an argument)
  PROPQ_TOKEN_URL      Token endpoint; default https://api.propq.com/oauth/token
  PROPQ_BASE_URL       API base URL; default https://api.propq.com
  XDG_CACHE_HOME       Where the token cache file lives: $XDG_CACHE_HOME/propq-auth/tokens.json
                       (default ~/.cache; ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows)

Run "propq-auth <command> --help" for a command's flags and examples.

${GLOBAL_HELP.slice(0, GLOBAL_HELP.indexOf("\nLEARN MORE"))}`;

// Loaded on demand: `token`, the command run most often, loads neither.
const COMMANDS: Record<string, () => Promise<Command>> = {
  token: () => Promise.resolve(token),
  api: async () => (await import("./_api.ts")).api,
  units: async () => (await import("./_units.ts")).units,
};

/** Runs the command line `args`; resolves with the exit code, never rejects. */
export async function run(args: string[], io: Io): Promise<number> {
  try {
    let { command, rest } = splitCommand(args);
    if (command === "help") [command, rest] = [rest.find((arg) => !arg.startsWith("-")), ["--help"]];
    if (command === undefined) {
      if (!rest.includes("--help") && !rest.includes("-h")) throw new UsageError("missing command", USAGE);
      io.out(USAGE);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`, USAGE);
    return await (await COMMANDS[command]())(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`propq-auth: ${error.message}\n\n${error.usage}`);
      return 2;
    }
    io.err(`propq-auth: ${explain(error)}\n`);
    return 1;
  }
}

/**
 * Command-line parsing shared by every command: `node:util`'s `parseArgs`
 * (Deno and Bun provide it too), the global flags, and their help text.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./_io.ts";

/** Flags every command takes, before or after the command's name. */
export const GLOBAL_OPTIONS = {
  "env-file": { type: "string", multiple: true },
  "no-cache": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The global flags' values. */
export interface GlobalValues {
  "env-file"?: string[];
  "no-cache"?: boolean;
  help?: boolean;
}

/** The help text of the global flags, ending every command's help. */
export const GLOBAL_HELP = `GLOBAL FLAGS
  --env-file <path>  Read PROPQ_* variables from a .env file (variables already set win)
  --no-cache         Keep the token in memory only, not in the shared token cache file
  -h, --help         Show help for the command

LEARN MORE
  propq-auth --help lists the environment variables and the commands.
`;

type Options = NonNullable<ParseArgsConfig["options"]>;

/** The values `parseArgs` finds for `options`: booleans, strings, or lists for `multiple`. */
export type Values<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: "boolean" } ? boolean : O[K] extends { multiple: true } ? string[] : string;
};

/**
 * Parses `args` with the command's `options` and the global ones; any
 * mistake becomes a {@linkcode UsageError} carrying `usage`.
 */
export function parseCommand<O extends Options>(
  args: string[],
  options: O,
  usage: string,
): { values: Values<O & typeof GLOBAL_OPTIONS>; positionals: string[] } {
  try {
    const config = { args, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals: true };
    const { values, positionals } = parseArgs(config);
    return { values: values as Values<O & typeof GLOBAL_OPTIONS>, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

/** Splits `args` at the command's name: global flags may come before it. */
export function splitCommand(args: readonly string[]): { command: string | undefined; rest: string[] } {
  let i = 0;
  while (i < args.length && args[i].startsWith("-") && args[i] !== "--") i += args[i] === "--env-file" ? 2 : 1;
  return { command: args[i], rest: [...args.slice(0, i), ...args.slice(i + 1)] };
}

/** Refuses positional arguments beyond the `expected` ones. */
export function noMoreArguments(positionals: string[], expected: number, usage: string): void {
  if (positionals.length > expected) throw new UsageError(`unexpected argument "${positionals[expected]}"`, usage);
}

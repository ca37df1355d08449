/**
 * Environment variables on every runtime: Deno, Node and Bun have them; edge
 * runtimes have none, and Deno without `--allow-env` refuses to read them.
 *
 * @module
 */

type EnvHost = {
  Deno?: { env: { get(name: string): string | undefined } };
  process?: { env: Record<string, string | undefined> };
};

/** A variable's value, and whether the runtime refused to read it. */
export interface EnvValue {
  value: string | undefined;
  denied: boolean;
}

/** Reads `name` from the environment; `undefined` where there is none. */
export function readEnv(name: string): EnvValue {
  const host = globalThis as EnvHost;
  try {
    return { value: host.Deno?.env.get(name) ?? host.process?.env?.[name], denied: false };
  } catch {
    return { value: undefined, denied: true }; // Deno without --allow-env
  }
}

// Child processes for the scripts: npm, node, bun and deno, each bounded in time.

/** npm's executable on this OS. */
export const NPM = Deno.build.os === "windows" ? "npm.cmd" : "npm";

/** How to run one command. */
export interface RunOptions {
  cwd?: string;
  /** Variables added to the environment (or the whole environment with `clearEnv`). */
  env?: Record<string, string>;
  clearEnv?: boolean;
  /** Killed after this long; default 10 minutes. */
  timeoutMs?: number;
}

/** What a captured command did. */
export interface RunResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

function command(name: string, args: string[], options: RunOptions, capture: boolean): Deno.Command {
  const output = capture ? "piped" : "inherit";
  return new Deno.Command(name, {
    args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "null",
    stdout: output,
    stderr: output,
    signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
  });
}

/** Runs a command with its output shown; resolves with whether it succeeded (false when killed by the time limit). */
export async function run(name: string, args: string[], options: RunOptions = {}): Promise<boolean> {
  return (await command(name, args, options, false).output()).success;
}

/** Runs a command and keeps its output. */
export async function capture(name: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const { success, code, stdout, stderr } = await command(name, args, options, true).output();
  const decoder = new TextDecoder();
  return { success, code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

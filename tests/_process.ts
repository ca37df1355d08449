// Runs test fixtures (tests/fixtures/NAME.ts, or the compiled NAME.js on Node and Bun) as separate OS processes.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const compiled = !import.meta.url.endsWith(".ts");
const isDeno = "Deno" in globalThis;

/** The output of a finished fixture process. */
export interface FixtureResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts fixture `name` with `args` in its own process; the caller waits or kills. */
export function startFixture(name: string, args: string[] = [], env: Record<string, string> = {}): ChildProcess {
  const file = fileURLToPath(new URL(`./fixtures/${name}${compiled ? ".js" : ".ts"}`, import.meta.url));
  const command = isDeno ? ["run", "--allow-all", "--unstable-kv", "--quiet", file, ...args] : [file, ...args];
  return spawn(process.execPath, command, {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Waits for a started fixture to exit (killing it after `timeoutMs`) and collects its output. */
export function finished(child: ChildProcess, timeoutMs = 30_000): Promise<FixtureResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk);
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A process that could not start never closes.
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(error) });
    });
  });
}

/** Runs fixture `name` to completion. */
export function runFixture(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<FixtureResult> {
  return finished(startFixture(name, args, env));
}

/** Resolves once a fixture started with a go file prints "ready"; rejects if it exits first. */
export function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const onData = (chunk: Buffer | string) => {
      seen += chunk;
      if (!seen.includes("ready\n")) return;
      child.stdout?.off("data", onData);
      resolve();
    };
    child.stdout?.on("data", onData);
    child.on("close", () => reject(new Error(`a fixture exited before it was ready: ${seen}`)));
  });
}

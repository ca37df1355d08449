// Issue 14's start-up figure: a fresh `propq-auth token` process with a warm FileCache (the token is in the
// file, nothing goes to the network) against the runtime's bare start-up (`deno eval 0`, `node -e 0`).
// Baseline and candidate processes alternate (ABBA), so machine noise hits both; the figure is the median of
// the per-round ratios. Target <= 1.5x. Deno runs the sources, Node the built package's bin.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { startTestServer } from "@propq/auth/testing";
import type { CliResults, ExtraHost } from "./_extras.ts";
import { median } from "./_measure.ts";

/** How {@linkcode benchCli} runs. */
export interface CliBenchOptions {
  /** Rounds measured, each one bare start-up and one `token` run. Default 21. */
  rounds?: number;
  /** Rounds run first and thrown away (disk cache, compile cache). Default 2. */
  warmup?: number;
  /** Time budget of the measured rounds, in ms; at least 5 rounds run. Default 30000. */
  maxMs?: number;
}

interface Spawned {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

const PROCESS_TIMEOUT_MS = 30_000;

/** Runs `command` to its end; wall time from spawn to exit. */
function timedRun(command: string[], env: Record<string, string | undefined>): Promise<Spawned> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command[0], command.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk);
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    const timer = setTimeout(() => child.kill("SIGKILL"), PROCESS_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, code, stdout, stderr });
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ ms: NaN, code: null, stdout, stderr: String(error) });
    });
  });
}

/** The bare start-up and the `propq-auth token` command for `host`'s runtime; `string` when there is none. */
function commands(host: ExtraHost): { bare: string[]; token: string[] } | string {
  if (host.runtime === "Deno") {
    // --no-config: like an installed `propq-auth`, not resolving this repository's deno.json and npm imports.
    const main = join(host.root, "src", "cli", "main.ts");
    return {
      bare: [process.execPath, "eval", "0"],
      token: [process.execPath, "run", "-A", "--no-config", main, "token"],
    };
  }
  const manifest = JSON.parse(readFileSync(join(host.root, "npm", "package.json"), "utf8"));
  const bin = manifest.bin?.["propq-auth"];
  if (typeof bin !== "string") return 'npm/package.json has no bin "propq-auth": the build does not add it yet';
  return { bare: [process.execPath, "-e", "0"], token: [process.execPath, join(host.root, "npm", bin), "token"] };
}

/**
 * Measures a `propq-auth token` process with a warm FileCache against the runtime's bare start-up.
 *
 * @returns The medians and their ratio; `skipped` when the command cannot be run here.
 * @throws When a `token` run fails, or asks the token endpoint again (the cache was not warm).
 */
export async function benchCli(host: ExtraHost, options: CliBenchOptions = {}): Promise<CliResults> {
  const { rounds = 21, warmup = 2, maxMs = 30_000 } = options;
  const found = commands(host);
  if (typeof found === "string") return { skipped: found };
  const server = await startTestServer();
  const cacheHome = await mkdtemp(join(tmpdir(), "propq-bench-cli-"));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PROPQ_")));
  const env = {
    ...inherited,
    NO_COLOR: "1",
    PROPQ_CLIENT_ID: String(server.clientId),
    PROPQ_CLIENT_SECRET: server.clientSecret,
    PROPQ_TOKEN_URL: server.tokenUrl,
    PROPQ_BASE_URL: server.baseUrl,
    XDG_CACHE_HOME: cacheHome,
  };
  const run = async (command: string[]) => {
    const result = await timedRun(command, env);
    if (result.code !== 0) throw new Error(`${command.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result;
  };
  try {
    const first = await run(found.token); // fills the cache file: every later run reads it
    if (first.stdout !== `${server.issuedTokens[0]}\n`) throw new Error("propq-auth token printed no token");
    for (let i = 0; i < warmup; i++) await run(i % 2 === 0 ? found.bare : found.token);
    const bare: number[] = [];
    const token: number[] = [];
    const ratios: number[] = [];
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? [found.bare, found.token] : [found.token, found.bare];
      const [a, b] = [(await run(order[0])).ms, (await run(order[1])).ms];
      const [b0, t0] = i % 2 === 0 ? [a, b] : [b, a];
      bare.push(b0);
      token.push(t0);
      ratios.push(t0 / b0);
      if (i >= 4 && performance.now() - started > maxMs) break;
    }
    if (server.tokenRequests !== 1) {
      throw new Error(`${server.tokenRequests} token requests: the FileCache was not warm`);
    }
    const shown = found.bare.slice(1).join(" ");
    return {
      token: {
        tokenMs: median(token),
        bareMs: median(bare),
        ratio: median(ratios),
        rounds: ratios.length,
        bare: `${host.runtime === "Deno" ? "deno" : "node"} ${shown}`,
      },
    };
  } finally {
    await server.close();
    await rm(cacheHome, { recursive: true, force: true });
  }
}

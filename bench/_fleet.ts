// Stampedes (issue 7): many concurrent callers on a cold cache in one process, and fleets of
// separate OS processes starting cold on one shared cache.
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createClient, MemoryCache } from "@propq/auth";
import { startTestServer } from "@propq/auth/testing";
import { scratchDir } from "./_cases.ts";
import { median } from "./_measure.ts";

/** One stampede setting: token requests made, and its time against one cold call's. */
export interface StampedeResult {
  label: string;
  tokenDelayMs: number;
  calls: number;
  clients: number;
  /** Token requests of each repetition (target: all 1). */
  tokenRequests: number[];
  /** Median ms until every caller has its token. */
  ms: number;
  /** Median ms of a single cold call on the same endpoint: the baseline. */
  singleMs: number;
  ratio: number;
  /** Distinct tokens handed out, summed over repetitions (target: the number of repetitions). */
  distinct: number;
}

async function coldCalls(calls: number, clients: number, tokenDelayMs: number) {
  const server = await startTestServer({ tokenDelayMs });
  try {
    const options = {
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      tokenUrl: server.tokenUrl,
      baseUrl: server.baseUrl,
      cache: new MemoryCache(),
    };
    const pool = Array.from({ length: clients }, () => createClient(options));
    const started = performance.now();
    const tokens = await Promise.all(Array.from({ length: calls }, (_, i) => pool[i % clients].getToken()));
    const ms = performance.now() - started;
    return { ms, tokenRequests: server.tokenRequests, distinct: new Set(tokens).size };
  } finally {
    await server.close();
  }
}

/** 1000 concurrent `getToken()` calls on a cold cache against one cold call, interleaved. */
export async function benchStampede(
  label: string,
  calls: number,
  clients: number,
  tokenDelayMs: number,
  repetitions: number,
): Promise<StampedeResult> {
  await coldCalls(1, 1, 0); // warm-up: code paths, not caches (each run has its own)
  const many: number[] = [];
  const single: number[] = [];
  const tokenRequests: number[] = [];
  let distinct = 0;
  for (let i = 0; i < repetitions; i++) {
    single.push((await coldCalls(1, 1, tokenDelayMs)).ms);
    const run = await coldCalls(calls, clients, tokenDelayMs);
    many.push(run.ms);
    tokenRequests.push(run.tokenRequests);
    distinct += run.distinct;
  }
  const ms = median(many);
  const singleMs = median(single);
  return { label, tokenDelayMs, calls, clients, tokenRequests, ms, singleMs, ratio: ms / singleMs, distinct };
}

// ---------------------------------------------------------------------------------------------
// Fleet stampede: separate OS processes starting cold on one shared cache.

/** Which cache the processes of a fleet share. */
export type FleetKind = "memory" | "file" | "kv";

/** Starts one fleet member: `_fleet_member.ts KIND PATH TOKEN_URL` with the credentials in `env`. */
export type SpawnMember = (args: string[], env: Record<string, string>) => ChildProcess;

/** One fleet setting. */
export interface FleetResult {
  kind: FleetKind;
  tokenDelayMs: number;
  processes: number;
  /** Token requests of each repetition: 1 is the target for file and kv; memory is the uncoordinated baseline. */
  tokenRequests: number[];
  /** Median ms from spawning the fleet to the last process holding a token. */
  allMs: number;
  /** Median of the same for the uncoordinated baseline (memory caches), set by benchFleet. */
  baselineMs?: number;
  ratio?: number;
  /** Processes that did not print a token, summed over repetitions. */
  failures: number;
  /** Distinct tokens per repetition (target 1 for file and kv). */
  distinct: number[];
}

interface FleetRun {
  tokenRequests: number;
  allMs: number;
  failures: number;
  distinct: number;
}

function runMember(child: ChildProcess, started: number, timeoutMs: number) {
  return new Promise<{ at?: number; token?: string; stderr: string }>((resolve) => {
    let out = "";
    let stderr = "";
    let at: number | undefined;
    let token: string | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const line = out.split("\n").find((text) => text.startsWith("{"));
      if (at === undefined && line !== undefined && out.includes("\n")) {
        at = performance.now() - started;
        try {
          token = JSON.parse(line).token;
        } catch {
          token = undefined;
        }
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    child.on("close", () => {
      clearTimeout(timer);
      resolve({ at, token, stderr });
    });
  });
}

async function fleetRun(kind: FleetKind, tokenDelayMs: number, size: number, spawn: SpawnMember): Promise<FleetRun> {
  const server = await startTestServer({ tokenDelayMs });
  const dir = scratchDir();
  try {
    const path = kind === "kv" ? join(dir, "tokens.sqlite3") : join(dir, "cache", "tokens.json");
    const env = { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
    const started = performance.now();
    const members = Array.from({ length: size }, () => spawn([kind, path, server.tokenUrl], env));
    const results = await Promise.all(members.map((child) => runMember(child, started, 30_000)));
    const failed = results.filter((result) => result.token === undefined);
    if (failed.length > 0 && failed[0].stderr) {
      console.error(`fleet ${kind}: ${failed.length} failed; first stderr: ${failed[0].stderr.slice(0, 500)}`);
    }
    const times = results.map((result) => result.at ?? Infinity);
    return {
      tokenRequests: server.tokenRequests,
      allMs: Math.max(...times),
      failures: failed.length,
      distinct: new Set(results.map((result) => result.token).filter(Boolean)).size,
    };
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * 8 processes start at once on a cold cache: memory (each its own: the uncoordinated baseline),
 * FileCache and KvCache. Kinds alternate within each repetition.
 */
export async function benchFleet(
  kinds: FleetKind[],
  tokenDelayMs: number,
  repetitions: number,
  spawn: SpawnMember,
  size = 8,
): Promise<FleetResult[]> {
  const runs = new Map<FleetKind, FleetRun[]>(kinds.map((kind) => [kind, []]));
  for (let i = 0; i < repetitions; i++) {
    const order = i % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) runs.get(kind)!.push(await fleetRun(kind, tokenDelayMs, size, spawn));
  }
  const results = kinds.map((kind): FleetResult => {
    const list = runs.get(kind)!;
    return {
      kind,
      tokenDelayMs,
      processes: size,
      tokenRequests: list.map((run) => run.tokenRequests),
      allMs: median(list.map((run) => run.allMs)),
      failures: list.reduce((sum, run) => sum + run.failures, 0),
      distinct: list.map((run) => run.distinct),
    };
  });
  const baseline = results.find((result) => result.kind === "memory");
  for (const result of results) {
    if (baseline === undefined) continue;
    result.baselineMs = baseline.allMs;
    result.ratio = result.allMs / baseline.allMs;
  }
  return results;
}

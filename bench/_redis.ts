// Issue 13's figures, runtime-neutral like _cases.ts: a fleet of processes starting cold against one Redis
// (token requests, target 1; ms until every process holds a token), and a warm RedisCache.get against a bare
// GET on the same connection (target <= 1.2x). Each run starts its own redis-server; without one the result
// says why it was skipped. The caller says how to start a fleet member: tests/fixtures/redis_get_token.ts on
// Deno (the default there), its compiled .js on Node. `deno run -A bench/_redis.ts` prints the figures.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RedisCache } from "@propq/auth/redis";
import { startTestServer } from "@propq/auth/testing";
import { type RedisServer, redisServerMissing, startRedisServer } from "../tests/_redis_server.ts";
import { nodeRedis, type RedisConnection } from "../tests/fixtures/redis_connect.ts";
import { compare, type Comparison, median } from "./_measure.ts";

/**
 * Starts one fleet member: `redis_get_token REDIS_URL TOKEN_URL LEASE_MS [memory]`, credentials in `env`
 * (`memory`: the baseline, each process on its own, with the same start-up and Redis connection).
 */
export type SpawnRedisMember = (args: string[], env: Record<string, string>) => ChildProcess;

/** A fleet of processes starting at once against an empty Redis. */
export interface RedisFleetResult {
  processes: number;
  tokenDelayMs: number;
  /** Token requests of each repetition (target 1). */
  tokenRequests: number[];
  /** Median ms from spawning the fleet to the last process printing its token. */
  allMs: number;
  /** The same for the uncoordinated baseline (each process its own MemoryCache): 8 token requests. */
  baselineMs: number;
  /** allMs / baselineMs. */
  ratio: number;
  /** Distinct tokens of each repetition (target 1). */
  distinct: number[];
  /** Processes that printed no token, over all repetitions. */
  failures: number;
}

/** Everything {@linkcode measureRedis} measured, or why it did not. */
export interface RedisResults {
  skipped?: string;
  fleet?: RedisFleetResult;
  /** Baseline: `GET` of the same JSON on the same node-redis connection; candidate: `RedisCache.get`. */
  warmGet?: Comparison;
}

/** How {@linkcode measureRedis} runs. */
export interface MeasureRedisOptions {
  /** Starts a fleet member. Default on Deno: `deno run -A tests/fixtures/redis_get_token.ts`. */
  spawnMember?: SpawnRedisMember;
  /** Fleet runs, each on a fresh Redis and a fresh token server. Default 3. */
  repetitions?: number;
  /** Processes per fleet. Default 8. */
  size?: number;
  /** The token endpoint's delay, in ms. Default 300. */
  tokenDelayMs?: number;
}

const STORED = {
  accessToken: `eyJ0eXAiOiJKV1QifQ.eyJqdGkiOjF9.${"x".repeat(200)}`,
  expiresAt: Date.now() + 86_400_000,
};

function denoMember(args: string[], env: Record<string, string>): ChildProcess {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (deno === undefined) throw new Error("measureRedis: pass spawnMember when not running on Deno");
  const fixture = fileURLToPath(new URL("../tests/fixtures/redis_get_token.ts", import.meta.url));
  return spawn(deno.execPath(), ["run", "--allow-all", "--quiet", fixture, ...args], {
    env: { ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Ms from `started` until `child` prints its token line, and the token; kills it after 60 s. */
function memberDone(child: ChildProcess, started: number): Promise<{ at?: number; token?: string }> {
  return new Promise((resolve) => {
    let out = "";
    let at: number | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      if (at === undefined && /^\{.*\}$/m.test(out)) at = performance.now() - started;
    });
    child.on("close", () => {
      clearTimeout(timer);
      const line = out.split("\n").find((text) => text.startsWith("{"));
      let token: string | undefined;
      try {
        token = line === undefined ? undefined : JSON.parse(line).token;
      } catch {
        token = undefined;
      }
      resolve({ at, token });
    });
  });
}

async function fleetRun(
  redis: RedisServer,
  spawnMember: SpawnRedisMember,
  size: number,
  tokenDelayMs: number,
  baseline: boolean,
) {
  const server = await startTestServer({ tokenDelayMs });
  try {
    const env = {
      ...(globalThis as { process?: { env: Record<string, string> } }).process?.env,
      PROPQ_CLIENT_ID: String(server.clientId),
      PROPQ_CLIENT_SECRET: server.clientSecret,
    };
    const started = performance.now();
    const members = Array.from(
      { length: size },
      () => spawnMember([redis.url, server.tokenUrl, "15000", ...(baseline ? ["memory"] : [])], env),
    );
    const results = await Promise.all(members.map((child) => memberDone(child, started)));
    const tokens = results.map((result) => result.token).filter((token) => token !== undefined);
    return {
      tokenRequests: server.tokenRequests,
      allMs: Math.max(...results.map((result) => result.at ?? Infinity)),
      distinct: new Set(tokens).size,
      failures: size - tokens.length,
    };
  } finally {
    await server.close();
  }
}

async function warmGet(connection: RedisConnection): Promise<Comparison> {
  const cache = new RedisCache(connection.command);
  await cache.set("bench-key", STORED);
  await connection.command(["SET", "bench-raw", JSON.stringify(STORED)]);
  if ((await cache.get("bench-key"))?.accessToken !== STORED.accessToken) throw new Error("RedisCache: no hit");
  const ops = 50;
  let sink = 0;
  const bare = async () => {
    for (let i = 0; i < ops; i++) if (await connection.command(["GET", "bench-raw"]) !== null) sink++;
  };
  const cached = async () => {
    for (let i = 0; i < ops; i++) if (await cache.get("bench-key") !== undefined) sink++;
  };
  const result = await compare(bare, cached, { ops, rounds: 60, warmup: 5, maxMs: 6_000 });
  if (sink === 0) throw new Error("no reads counted");
  return result;
}

/** Runs both measurements; `skipped` says why when redis-server is missing. */
export async function measureRedis(options: MeasureRedisOptions = {}): Promise<RedisResults> {
  const missing = redisServerMissing();
  if (missing !== undefined) return { skipped: missing };
  const { spawnMember = denoMember, repetitions = 3, size = 8, tokenDelayMs = 300 } = options;
  const runs = [];
  const baselineMs = [];
  for (let i = 0; i < repetitions; i++) {
    const redis = await startRedisServer();
    try {
      // Alternating, so machine load hits both alike.
      if (i % 2 === 1) baselineMs.push((await fleetRun(redis, spawnMember, size, tokenDelayMs, true)).allMs);
      runs.push(await fleetRun(redis, spawnMember, size, tokenDelayMs, false));
      if (i % 2 === 0) baselineMs.push((await fleetRun(redis, spawnMember, size, tokenDelayMs, true)).allMs);
    } finally {
      await redis.close();
    }
  }
  const allMs = median(runs.map((run) => run.allMs));
  const redis = await startRedisServer();
  const connection = await nodeRedis(redis.url);
  try {
    return {
      fleet: {
        processes: size,
        tokenDelayMs,
        tokenRequests: runs.map((run) => run.tokenRequests),
        allMs,
        baselineMs: median(baselineMs),
        ratio: allMs / median(baselineMs),
        distinct: runs.map((run) => run.distinct),
        failures: runs.reduce((sum, run) => sum + run.failures, 0),
      },
      warmGet: await warmGet(connection),
    };
  } finally {
    connection.destroy();
    await redis.close();
  }
}

if (import.meta.main) console.log(JSON.stringify(await measureRedis(), null, 2));

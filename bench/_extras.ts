// The measurements of issues 13 and 14 come from modules other engineers own: bench/_redis.ts
// (`measureRedis(options)`: RedisCache) and bench/_cli.ts (`benchCli(host)`: the `propq-auth`
// command). This file says what the suite passes them and what the report reads of their results,
// and loads them only when present: while one is missing or does not load, its rows say "not
// measured" and why, and the rest of the bench runs.
import type { Comparison } from "./_measure.ts";

/** What the suite passes to `benchCli(host)`. */
export interface ExtraHost {
  /** `"Deno"`: measure the sources; `"Node"`: the built package in `<root>/npm`. */
  runtime: "Deno" | "Node";
  /** The repository root, an absolute path. */
  root: string;
}

/** What the report reads of `measureRedis(options)`'s result. */
export interface RedisResults {
  /** Set instead of the figures when nothing could be measured, e.g. redis-server is missing. */
  skipped?: string;
  /** Processes starting at once on an empty Redis (`RedisCache`). */
  fleet?: {
    processes: number;
    tokenDelayMs?: number;
    /** Token requests of each repetition (target: all 1). */
    tokenRequests: number[];
    /** Median ms from spawning the fleet until the last process holds a token. */
    allMs: number;
    /** The same for the uncoordinated fleet (each process its own MemoryCache), and allMs / baselineMs. */
    baselineMs?: number;
    ratio?: number;
    /** Distinct tokens of each repetition (target: all 1). */
    distinct?: number[];
    /** Processes that got no token, all repetitions. */
    failures: number;
  };
  /** Warm `RedisCache.get` (candidate) against a bare `GET` on the same connection (baseline). */
  warmGet?: Comparison;
}

/** What `benchCli(host)` of bench/_cli.ts resolves with. */
export interface CliResults {
  skipped?: string;
  /** Fresh `propq-auth token` processes with a warm FileCache against the bare runtime start-up. */
  token?: {
    /** Median wall ms of one `propq-auth token` process, spawn to exit. */
    tokenMs: number;
    /** Median wall ms of the bare start-up, e.g. `deno eval 0` or `node -e 0`. */
    bareMs: number;
    /** Median of the per-round ratios tokenMs / bareMs. */
    ratio: number;
    rounds: number;
    /** The baseline command as run, e.g. "node -e 0". */
    bare: string;
  };
}

/** A loaded optional module, or why there is none. */
export type Loaded = { module: Record<string, unknown> } | { missing: string };

/** Loads bench/NAME.ts (Deno) or its bundle (Node). */
export type LoadExtra = (name: "_redis" | "_cli") => Promise<Loaded>;

// The modules bound their own runs; this is the backstop that keeps the whole bench bounded.
const EXTRA_TIMEOUT_MS = 240_000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${EXTRA_TIMEOUT_MS / 1000} s`)), EXTRA_TIMEOUT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Calls `exportName(argument)` of optional module `name`. Resolves with `{ skipped }` when the
 * module or the export is missing; rejects (the suite records it) when the measurement fails.
 */
export async function runExtra<T extends { skipped?: string }>(
  load: LoadExtra,
  name: "_redis" | "_cli",
  exportName: string,
  argument: unknown,
): Promise<T> {
  const loaded = await load(name);
  if ("missing" in loaded) return { skipped: loaded.missing } as T;
  const measure = loaded.module[exportName];
  if (typeof measure !== "function") return { skipped: `bench/${name}.ts does not export ${exportName}()` } as T;
  return await withTimeout(Promise.resolve(measure(argument) as Promise<T>), `bench/${name}.ts ${exportName}()`);
}

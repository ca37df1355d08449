// Runs every runtime-neutral case in order, printing each figure as it lands. A case that fails is
// recorded in `errors` and the others still run, so one broken adapter does not hide the rest.
import { benchFileRead, benchGetToken, benchKvRead, type OpenKv, sinkValue } from "./_cases.ts";
import { benchColdImport, type SpawnProbe } from "./_cold_import.ts";
import { type CliResults, type ExtraHost, type LoadExtra, type RedisResults, runExtra } from "./_extras.ts";
import { benchFetch } from "./_fetch.ts";
import { benchFleet, benchStampede, type SpawnMember } from "./_fleet.ts";
import { benchOutage, benchRefreshBoundary } from "./_lifecycle.ts";
import type { Comparison } from "./_measure.ts";
import type { RuntimeResults } from "./_results.ts";

/** What the runtime's entry provides. */
export interface SuiteHost {
  runtime: "Deno" | "Node";
  /** The repository root. */
  root: string;
  spawnMember: SpawnMember;
  spawnProbe: SpawnProbe;
  openKv: (path: string) => Promise<OpenKv>;
  /** Loads bench/_redis.ts or bench/_cli.ts, when written. */
  loadExtra: LoadExtra;
  /**
   * Starts a member of the Redis fleet (tests/fixtures/redis_get_token, args and env from
   * bench/_redis.ts); `undefined`: _redis.ts's own default, which runs the fixture on Deno.
   */
  spawnRedisMember?: SpawnMember;
}

function ns(value: number): string {
  return value >= 100_000
    ? `${(value / 1e6).toFixed(3)} ms`
    : value >= 1000
    ? `${(value / 1000).toFixed(2)} µs`
    : `${value.toFixed(1)} ns`;
}

/** One console line for a comparison. */
export function describe(comparison: Comparison): string {
  const { ratio, q1, q3, cpuRatio, baselineNs, candidateNs, rounds } = comparison;
  return `${ratio.toFixed(3)}x (IQR ${q1.toFixed(3)}–${q3.toFixed(3)}, CPU ${cpuRatio.toFixed(3)}x; ${
    ns(candidateNs)
  } vs ${ns(baselineNs)}; ${rounds} rounds)`;
}

/** Runs the suite on this runtime. */
export async function runSuite(host: SuiteHost): Promise<RuntimeResults> {
  const results: RuntimeResults = { runtime: host.runtime, errors: [] };
  const log = (text: string) => console.log(`[${host.runtime}] ${text}`);
  const step = async (name: string, run: () => Promise<void>) => {
    const started = performance.now();
    try {
      await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      results.errors.push(`${name}: ${message}`);
      log(`${name}: FAILED ${message}`);
    }
    log(`  (${name} took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  };

  await step("getToken", async () => {
    results.getToken = await benchGetToken();
    log(`cached getToken() vs floor: ${describe(results.getToken)}`);
  });
  await step("fetch", async () => {
    const fetch = results.fetch = await benchFetch();
    log(`client.fetch vs fetch, sequential: ${describe(fetch.sequential)}`);
    log(`client.fetch vs fetch, 50 in flight: ${describe(fetch.concurrent)}`);
    log(`  reference, fetch with redirect "manual" vs fetch: ${describe(fetch.manualRedirect)}`);
    log(`  reference, a minimal wrapper vs fetch: ${describe(fetch.minimalWrapper)}`);
    log(`  own work without the network, client.fetch vs the minimal wrapper: ${describe(fetch.ownWork)}`);
  });
  await step("stampede", async () => {
    results.stampede = [
      await benchStampede("fast endpoint", 1000, 1, 0, 5),
      await benchStampede("200 ms endpoint", 1000, 1, 200, 2),
      await benchStampede("fast endpoint, 10 clients", 1000, 10, 0, 3),
    ];
    for (const s of results.stampede) {
      log(
        `stampede ${s.label}: token requests ${s.tokenRequests.join(",")}; ${s.ms.toFixed(1)} ms vs one cold call ${
          s.singleMs.toFixed(1)
        } ms = ${s.ratio.toFixed(2)}x`,
      );
    }
  });
  await step("fleet", async () => {
    results.fleet = [
      ...await benchFleet(["memory", "file", "kv"], 0, 3, host.spawnMember),
      ...await benchFleet(["memory", "file", "kv"], 200, 2, host.spawnMember),
    ];
    for (const f of results.fleet) {
      log(
        `fleet ${f.kind} (${f.tokenDelayMs} ms endpoint): token requests ${
          f.tokenRequests.join(",")
        }; all have a token in ${f.allMs.toFixed(0)} ms (${
          f.ratio?.toFixed(2)
        }x uncoordinated); failures ${f.failures}`,
      );
    }
  });
  await step("fileRead", async () => {
    results.fileRead = await benchFileRead();
    log(`FileCache.get warm vs readFile+JSON.parse: ${describe(results.fileRead)}`);
  });
  await step("kvRead", async () => {
    results.kvRead = await benchKvRead(host.openKv);
    log(`KvCache.get warm vs kv.get+decode: ${describe(results.kvRead)}`);
  });
  await step("coldImport", async () => {
    results.coldImport = await benchColdImport(host.spawnProbe);
    const c = results.coldImport;
    log(
      `cold import: process ${c.withMs.toFixed(1)} ms vs ${c.withoutMs.toFixed(1)} ms bare = ${
        c.ratio.toFixed(3)
      }x; import() ${c.importMs.toFixed(2)} ms`,
    );
  });
  await step("refreshBoundary", async () => {
    const r = results.refreshBoundary = await benchRefreshBoundary();
    for (const arm of r.arms) {
      log(
        `refresh boundary, ${arm.name}: max ${arm.maxMs.toFixed(1)} ms (worst ${arm.worstMs.toFixed(1)}), p99 ${
          arm.p99Ms.toFixed(2)
        } ms${
          arm.ratio === undefined ? "" : ` = ${arm.ratio.toFixed(2)}x max, ${arm.p99Ratio!.toFixed(2)}x p99`
        }; ${arm.requests} requests, token requests ${
          arm.tokenRequests.join(",")
        }, ${arm.slow} waited >= ${r.tokenDelayMs} ms, ${arm.unauthorized} 401s, ${arm.failed} failed`,
      );
    }
  });
  await step("outage", async () => {
    const o = results.outage = await benchOutage();
    log(
      `outage (token endpoint 503): before the window ${o.held.calls} calls, ${o.held.failed} failed; in the window ${o.window.calls} calls, ${o.window.failed} failed (slowest ${
        o.window.maxMs.toFixed(1)
      } ms; ${o.windowTokenRequests} token requests, ${o.refreshFailed} refresh_failed); last ${o.minValidityS} s: ${o.minValidity.calls} calls, ${o.minValidity.failed} refused`,
    );
  });
  const extraHost: ExtraHost = { runtime: host.runtime, root: host.root };
  // A failure is recorded in `errors` by `step`; the row says so too.
  const failed = (error: unknown) => ({
    skipped: `the measurement failed (see the errors below): ${error instanceof Error ? error.message : error}`,
  });
  await step("redis", async () => {
    // measureRedis skips, saying why, when redis-server is missing.
    const options = { spawnMember: host.spawnRedisMember };
    const r = results.redis = await runExtra<RedisResults>(host.loadExtra, "_redis", "measureRedis", options)
      .catch((error) => {
        results.redis = failed(error);
        throw error;
      });
    if (r.skipped) log(`redis: not measured: ${r.skipped}`);
    if (r.fleet) {
      log(`redis fleet: token requests ${r.fleet.tokenRequests.join(",")}; all in ${r.fleet.allMs.toFixed(0)} ms`);
    }
    if (r.warmGet) log(`RedisCache.get warm vs GET: ${describe(r.warmGet)}`);
  });
  await step("cli", async () => {
    const c = results.cli = await runExtra<CliResults>(host.loadExtra, "_cli", "benchCli", extraHost)
      .catch((error) => {
        results.cli = failed(error);
        throw error;
      });
    if (c.skipped) log(`cli: not measured: ${c.skipped}`);
    if (c.token) {
      log(`propq-auth token: ${c.token.tokenMs.toFixed(0)} ms vs ${c.token.bare} ${c.token.bareMs.toFixed(0)} ms`);
    }
  });
  if (sinkValue() === -1) log("unreachable");
  return results;
}

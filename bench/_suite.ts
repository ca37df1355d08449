// Runs every runtime-neutral case in order, printing each figure as it lands. A case that fails is
// recorded in `errors` and the others still run, so one broken adapter does not hide the rest.
import {
  benchColdImport,
  benchFetch,
  benchFileRead,
  benchFleet,
  benchGetToken,
  benchKvRead,
  benchStampede,
  type OpenKv,
  type RuntimeResults,
  sinkValue,
  type SpawnMember,
  type SpawnProbe,
} from "./_cases.ts";
import type { Comparison } from "./_measure.ts";

/** What the runtime's entry provides. */
export interface SuiteHost {
  runtime: string;
  spawnMember: SpawnMember;
  spawnProbe: SpawnProbe;
  openKv: (path: string) => Promise<OpenKv>;
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
  if (sinkValue() === -1) log("unreachable");
  return results;
}

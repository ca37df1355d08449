// The rows of bench/RESULTS.md for RedisCache (issue 13) and the `propq-auth` command (issue 14),
// measured by bench/_redis.ts and bench/_cli.ts (see _extras.ts); "not measured" and why until then.
import type { CliResults, RedisResults } from "./_extras.ts";
import { type Cell, ratioCell, row } from "./_report_cells.ts";
import type { RuntimeResults } from "./_results.ts";

/** Warm RedisCache.get against a bare GET on the same connection. */
const REDIS_GET_TARGET = 1.2;
/** A `propq-auth token` run with a warm FileCache against the bare runtime start-up. */
const CLI_TOKEN_TARGET = 1.5;

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

function notMeasured(results: { skipped?: string } | undefined, what: string): Cell {
  // A table cell holds one line and no pipe.
  const why = (results?.skipped ?? `${what} gave no figure`).replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|");
  return { text: `not measured: ${why}`, notMeasured: true };
}

function redisFleetCell(r: RedisResults | undefined): Cell {
  const f = r?.fleet;
  if (f === undefined || !Array.isArray(f.tokenRequests) || !isNumber(f.allMs)) {
    return notMeasured(r, "bench/_redis.ts");
  }
  const ok = f.failures === 0 && f.tokenRequests.length > 0 && f.tokenRequests.every((n) => n === 1) &&
    (f.distinct ?? [1]).every((n) => n === 1);
  const against = isNumber(f.ratio) && isNumber(f.baselineMs)
    ? ` = ${f.ratio.toFixed(2)}x uncoordinated (${f.baselineMs.toFixed(0)} ms, a MemoryCache each)`
    : "";
  return {
    text: `**${
      f.tokenRequests.join(", ")
    }** request(s) in ${f.tokenRequests.length} runs; all ${f.processes} hold a token after ${
      f.allMs.toFixed(0)
    } ms${against}${f.failures ? `; **${f.failures} failed**` : ""}`,
    met: ok,
  };
}

function redisGetCell(r: RedisResults | undefined): Cell {
  const c = r?.warmGet;
  if (c === undefined || !isNumber(c.ratio)) return notMeasured(r, "bench/_redis.ts");
  return ratioCell(c, REDIS_GET_TARGET);
}

function cliCell(c: CliResults | undefined): Cell {
  const t = c?.token;
  if (t === undefined || !isNumber(t.ratio) || !isNumber(t.tokenMs) || !isNumber(t.bareMs)) {
    return notMeasured(c, "bench/_cli.ts");
  }
  return {
    text: `**${t.ratio.toFixed(2)}x** (${t.tokenMs.toFixed(0)} ms vs ${
      t.bareMs.toFixed(0)
    } ms for \`${t.bare}\`, per process; ${t.rounds} rounds)`,
    met: t.ratio <= CLI_TOKEN_TARGET,
  };
}

/** The Redis and command-line rows of the main table. */
// What a warm `propq-auth token` costs on Deno, measured apart (fresh processes, medians of 15, quiet machine):
// an empty `deno run` 71 ms, the same touching node:process 104 ms, importing node:fs/promises, node:crypto,
// node:os and node:path 123 ms.
const DENO_CLI_WHY = " Most of it is Deno's Node compatibility layer, not the command: an empty `deno run` takes" +
  " 71 ms, one that touches `node:process` 104 ms, one that loads `node:fs`, `node:crypto`, `node:os` and `node:path`" +
  " 123 ms, and the shared token file (`FileCache`) needs them. On Node the npm bin is bundled into one file and meets" +
  " the target.";

export function extraRows(d: RuntimeResults, n: RuntimeResults | undefined): string[] {
  const fleet = d.redis?.fleet ?? n?.redis?.fleet;
  const endpoint = isNumber(fleet?.tokenDelayMs) ? `${fleet.tokenDelayMs} ms endpoint` : "token endpoint";
  return [
    row(
      `fleet: ${fleet?.processes ?? 8} processes, empty Redis (\`RedisCache\`), ${endpoint}`,
      "the same fleet uncoordinated",
      "1 token request",
      redisFleetCell(d.redis),
      redisFleetCell(n?.redis),
    ),
    row(
      "`RedisCache.get()`, warm",
      "a bare `GET` round trip on the same connection",
      `≤ ${REDIS_GET_TARGET}x`,
      redisGetCell(d.redis),
      redisGetCell(n?.redis),
    ),
    row(
      "`propq-auth token`, warm FileCache, fresh process",
      "the bare runtime start-up: `deno eval 0`, `node -e 0`",
      `≤ ${CLI_TOKEN_TARGET}x`,
      cliCell(d.cli),
      cliCell(n?.cli),
    ),
  ];
}

/** One line per missed Redis or command-line target: the figures behind the ratio. */
export function extraLimits(d: RuntimeResults, n: RuntimeResults | undefined): string[] {
  const notes: string[] = [];
  for (const r of [d, n]) {
    if (r === undefined) continue;
    const get = r.redis?.warmGet;
    if (get !== undefined && isNumber(get.ratio) && get.ratio > REDIS_GET_TARGET) {
      notes.push(
        `- **\`RedisCache.get()\` on ${r.runtime}: ${get.ratio.toFixed(2)}x a bare \`GET\`** (${
          (get.candidateNs / 1000).toFixed(1)
        } µs vs ${(get.baselineNs / 1000).toFixed(1)} µs a read; IQR ${get.q1.toFixed(2)}–${
          get.q3.toFixed(2)
        }). Measured by bench/_redis.ts.`,
      );
    }
    const t = r.cli?.token;
    if (t !== undefined && isNumber(t.ratio) && t.ratio > CLI_TOKEN_TARGET) {
      notes.push(
        `- **\`propq-auth token\` on ${r.runtime}: ${t.ratio.toFixed(2)}x the bare start-up**: ${
          t.tokenMs.toFixed(0)
        } ms a run against ${t.bareMs.toFixed(0)} ms for \`${t.bare}\`, so the command adds ${
          (t.tokenMs - t.bareMs).toFixed(0)
        } ms to the runtime's own start-up. Measured by bench/_cli.ts.${r.runtime === "Deno" ? DENO_CLI_WHY : ""}`,
      );
    }
  }
  return notes;
}

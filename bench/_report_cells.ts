// The table cells of bench/RESULTS.md: each figure as text, and whether it meets its target.
import type { FleetResult, StampedeResult } from "./_fleet.ts";
import type { Comparison } from "./_measure.ts";
import type { RuntimeResults } from "./_results.ts";

/** One cell: its text, and whether it meets the row's target (`undefined`: no target). */
export type Cell = { text: string; met?: boolean; notMeasured?: boolean };

/** A per-operation time in ns, in the unit that reads best. */
export function time(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** A comparison: its ratio in bold, the times behind it, CPU ratio and IQR. */
export function ratioCell(c: Comparison | undefined, target?: number): Cell {
  if (c === undefined) return { text: "n/a" };
  return {
    text: `**${c.ratio.toFixed(2)}x** (${time(c.candidateNs)} vs ${time(c.baselineNs)}; CPU ${
      c.cpuRatio.toFixed(2)
    }x; IQR ${c.q1.toFixed(2)}–${c.q3.toFixed(2)})`,
    met: target === undefined ? undefined : c.ratio <= target,
  };
}

/** A stampede: token requests per run (target: all 1), and the time against one cold call. */
export function stampedeCell(s: StampedeResult | undefined): Cell {
  if (s === undefined) return { text: "n/a" };
  const all = s.tokenRequests.every((n) => n === 1) && s.distinct === s.tokenRequests.length;
  return {
    text: `**${s.tokenRequests.join(", ")}** request(s) in ${s.tokenRequests.length} runs; all callers served in ${
      s.ms.toFixed(1)
    } ms = ${s.ratio.toFixed(2)}x one cold call (${s.singleMs.toFixed(1)} ms)`,
    met: all,
  };
}

/** A coordinated fleet: token requests per run (target: all 1), and the time against the uncoordinated fleet. */
export function fleetCell(f: FleetResult | undefined): Cell {
  if (f === undefined) return { text: "n/a" };
  const ok = f.failures === 0 && f.tokenRequests.every((n) => n === 1) && f.distinct.every((n) => n === 1);
  return {
    text: `**${
      f.tokenRequests.join(", ")
    }** request(s) in ${f.tokenRequests.length} runs; all ${f.processes} hold a token after ${
      f.allMs.toFixed(0)
    } ms = ${f.ratio?.toFixed(2)}x uncoordinated${f.failures ? `; ${f.failures} failed` : ""}`,
    met: ok,
  };
}

/** The uncoordinated fleet: the baseline of the coordinated ones. */
export function uncoordinatedCell(f: FleetResult | undefined): Cell {
  if (f === undefined) return { text: "n/a" };
  return { text: `${f.tokenRequests.join(", ")} requests; all hold a token after ${f.allMs.toFixed(0)} ms` };
}

/** Cold import: process time with the import against without, and the `import()` itself. */
export function importCell(r: RuntimeResults | undefined): Cell {
  const c = r?.coldImport;
  if (c === undefined) return { text: "n/a" };
  return {
    text: `**${c.ratio.toFixed(2)}x** (${c.withMs.toFixed(0)} ms vs ${
      c.withoutMs.toFixed(0)
    } ms per process; \`import()\` ${c.importMs.toFixed(1)} ms)`,
  };
}

/** The last column: met when every judged cell meets its target ("where measured" if a runtime was not). */
export function mark(cells: Cell[]): string {
  if (cells.every((cell) => cell.notMeasured)) return "not measured";
  const judged = cells.filter((cell) => cell.met !== undefined);
  if (judged.length === 0) return "";
  if (!judged.every((cell) => cell.met)) return "**missed**";
  return cells.some((cell) => cell.notMeasured) ? "met where measured" : "met";
}

/** The fleet rows for one token endpoint delay: the uncoordinated baseline, then FileCache and KvCache. */
export function fleetRows(d: RuntimeResults, n: RuntimeResults | undefined, delay: number): string[] {
  const endpoint = delay === 0 ? "fast endpoint" : `${delay} ms endpoint`;
  const baseline = row(
    `fleet baseline: 8 processes, each its own MemoryCache, ${endpoint}`,
    "",
    "",
    uncoordinatedCell(fleet(d, "memory", delay)),
    uncoordinatedCell(fleet(n, "memory", delay)),
  );
  const coordinated = ([["file", "cold `FileCache`"], ["kv", "cold KV file (`KvCache`)"]] as const).map((
    [kind, what],
  ) =>
    row(
      `fleet: 8 processes, ${what}, ${endpoint}`,
      "the 8 uncoordinated processes",
      "1 token request",
      fleetCell(fleet(d, kind, delay)),
      fleetCell(fleet(n, kind, delay)),
    )
  );
  return [baseline, ...coordinated];
}

/** One table row. */
export function row(measure: string, baseline: string, target: string, deno: Cell, node: Cell): string {
  return `| ${measure} | ${baseline} | ${target} | ${deno.text} | ${node.text} | ${mark([deno, node])} |`;
}

/** The fleet figures of one kind of cache and endpoint delay. */
export function fleet(r: RuntimeResults | undefined, kind: string, delay: number): FleetResult | undefined {
  return r?.fleet?.find((f) => f.kind === kind && f.tokenDelayMs === delay);
}

/** The stampede figures of one setting. */
export function stampede(r: RuntimeResults | undefined, label: string): StampedeResult | undefined {
  return r?.stampede?.find((s) => s.label === label);
}

// Interleaved comparison: baseline and candidate batches alternate (ABBA) in one process, and the
// median of the per-round ratios is the figure, so drift and noise from other processes on the
// machine hit both sides alike. Process CPU time is taken too: on a busy machine it is steadier
// than wall time, as a batch that loses the CPU to another process keeps its CPU time.
import process from "node:process";

/** Runs a fixed number of operations. */
export type Batch = () => Promise<unknown>;

/** The outcome of {@linkcode compare}. */
export interface Comparison {
  /** Median over the rounds of candidate wall time / baseline wall time. */
  ratio: number;
  /** 25th and 75th percentile of the per-round wall-time ratios: how noisy the run was. */
  q1: number;
  q3: number;
  /** Median over the rounds of candidate CPU time / baseline CPU time (this process, all threads). */
  cpuRatio: number;
  /** Median wall time of one baseline operation, in ns. */
  baselineNs: number;
  /** Median wall time of one candidate operation, in ns. */
  candidateNs: number;
  /** Rounds measured (warm-up excluded). */
  rounds: number;
}

/** How {@linkcode compare} runs. */
export interface CompareOptions {
  /** Operations per batch, to turn batch times into per-operation times. */
  ops: number;
  /** Rounds to measure; fewer when `maxMs` runs out first (at least 5). */
  rounds: number;
  /** Rounds run first and thrown away (JIT warm-up). Default 3. */
  warmup?: number;
  /** Time budget of the measured rounds, in ms. Default 10000. */
  maxMs?: number;
  /**
   * Yield to the event loop between rounds, so each starts a fresh turn. Default true; batches
   * that do I/O turn anyway, and an extra timer between them only adds noise.
   */
  yieldBetween?: boolean;
}

/** The `p` quantile (0..1) of `values`, linearly interpolated. */
export function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * p;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Lets timers, I/O callbacks and the garbage collector run between batches. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function timed(batch: Batch): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await batch();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1000 };
}

/** Measures `candidate` against `baseline` in alternating rounds. */
export async function compare(baseline: Batch, candidate: Batch, options: CompareOptions): Promise<Comparison> {
  const { ops, rounds, warmup = 3, maxMs = 10_000, yieldBetween = true } = options;
  for (let i = 0; i < warmup; i++) {
    await baseline();
    await candidate();
    await turn();
  }
  const base: number[] = [];
  const cand: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const first = await timed(i % 2 === 0 ? baseline : candidate);
    const second = await timed(i % 2 === 0 ? candidate : baseline);
    const [b, c] = i % 2 === 0 ? [first, second] : [second, first];
    base.push(b.wall);
    cand.push(c.wall);
    ratios.push(c.wall / b.wall);
    // CPU time is counted in 1 µs steps: too coarse for a batch shorter than about 1 ms.
    if (b.cpu > 0 && c.cpu > 0) cpuRatios.push(c.cpu / b.cpu);
    if (yieldBetween) await turn();
    if (i >= 4 && performance.now() - started > maxMs) break;
  }
  return {
    ratio: median(ratios),
    q1: quantile(ratios, 0.25),
    q3: quantile(ratios, 0.75),
    cpuRatio: median(cpuRatios),
    baselineNs: median(base) * 1e6 / ops,
    candidateNs: median(cand) * 1e6 / ops,
    rounds: ratios.length,
  };
}

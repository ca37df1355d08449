// Cold import (issue 7): a fresh process that imports the package against one that imports nothing.
import type { ChildProcess } from "node:child_process";
import { median, turn } from "./_measure.ts";

/** Cold import figures. */
export interface ColdImportResult {
  /** Median wall ms of a process that imports the module, from spawn to exit. */
  withMs: number;
  /** Median wall ms of the same process importing nothing. */
  withoutMs: number;
  ratio: number;
  /** Median ms the `import()` itself took inside the process. */
  importMs: number;
  rounds: number;
}

/** Starts the import probe: with `true`, it imports the package; else it imports nothing. */
export type SpawnProbe = (load: boolean) => ChildProcess;

function runProbe(child: ChildProcess): Promise<{ ms: number; importMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let out = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => out += chunk);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`import probe exited ${code}: ${stderr.slice(0, 500)}`));
      resolve({ ms, importMs: Number(JSON.parse(out.trim()).importMs) });
    });
  });
}

/** Alternates probe processes with and without the import, `rounds` of each after one warm-up each. */
export async function benchColdImport(spawn: SpawnProbe, rounds = 16): Promise<ColdImportResult> {
  await runProbe(spawn(false));
  await runProbe(spawn(true));
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  const ratios: number[] = [];
  const importMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const first = i % 2 === 0;
    const a = await runProbe(spawn(first));
    const b = await runProbe(spawn(!first));
    const loaded = first ? a : b;
    const bare = first ? b : a;
    withMs.push(loaded.ms);
    withoutMs.push(bare.ms);
    ratios.push(loaded.ms / bare.ms);
    importMs.push(loaded.importMs);
    await turn();
  }
  return {
    withMs: median(withMs),
    withoutMs: median(withoutMs),
    ratio: median(ratios),
    importMs: median(importMs),
    rounds,
  };
}

/**
 * Progress of a bulk send on stderr: on a terminal, one bar redrawn in place
 * (rows done of total, failed, rate, time left); elsewhere (a log, CI) one
 * line per tenth done, as `npm` and `cargo` do.
 *
 * @module
 */

import type { Io } from "./_io.ts";

/** Receives the counts as rows end. */
export interface Progress {
  /** `done` rows ended so far, `failed` of them failed. */
  update(done: number, failed: number): void;
  /** Draws the final state and ends the bar's line. */
  finish(): void;
}

const REDRAW_MS = 100;

/** `95` → `1m35s`; seconds under a minute as `12s`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** The figures both displays show: `120/200 rows, 2 failed, 35.2 rows/s, ETA 2s`. */
export function figures(done: number, total: number, failed: number, elapsedMs: number): string[] {
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = done === total ? 0 : rate > 0 ? (total - done) / rate : Infinity;
  return [`${done}/${total} rows`, `${failed} failed`, `${rate.toFixed(1)} rows/s`, `ETA ${duration(eta)}`];
}

/**
 * A progress display for `total` rows on `io`'s stderr.
 *
 * @param now The clock, in ms.
 */
export function progress(total: number, io: Pick<Io, "err" | "errIsTTY" | "columns">, now = Date.now): Progress {
  const started = now();
  let drawnAt = -Infinity;
  let tenths = 0;
  let last = { done: 0, failed: 0 };

  function bar(done: number, failed: number): string {
    const text = figures(done, total, failed, now() - started).join("  ");
    const width = Math.max(10, Math.min(30, (io.columns || 80) - text.length - 4));
    const filled = total === 0 ? width : Math.floor(width * done / total);
    return `\r[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${text}\x1b[K`;
  }

  return {
    update(done, failed) {
      last = { done, failed };
      if (io.errIsTTY) {
        if (now() - drawnAt < REDRAW_MS && done < total) return;
        drawnAt = now();
        io.err(bar(done, failed));
        return;
      }
      const reached = total === 0 ? 10 : Math.floor(done * 10 / total);
      if (reached <= tenths) return;
      tenths = reached;
      const [rows, ...rest] = figures(done, total, failed, now() - started);
      io.err(`propq-auth: ${rows} (${Math.floor(done * 100 / total)}%), ${rest.join(", ")}\n`);
    },
    finish() {
      if (io.errIsTTY) io.err(`${bar(last.done, last.failed)}\n`);
    },
  };
}

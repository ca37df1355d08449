/**
 * Sends many items with a bounded number in flight, retrying the transient
 * failures of each (429, 5xx, network) with backoff and jitter, and honouring
 * `Retry-After`: a 429's wait holds back every sender, as the limit is the
 * client's, not the row's.
 *
 * @module
 */

import { PropQApiError, PropQAuthError } from "../../mod.ts";
import { causes } from "./_io.ts";

/** How one item ended. */
export interface Outcome {
  ok: boolean;
  /** The last HTTP status; `null` when there was no answer. */
  httpStatus: number | null;
  /** Why it failed, for people; `null` when it did not. */
  error: string | null;
  /** Requests made for it (0 when it was never sent). */
  attempts: number;
}

/** Options of {@linkcode sendAll}. */
export interface SendOptions {
  /** Items in flight at most. */
  concurrency: number;
  /** Requests per item at most, retries included. Default 4. */
  maxAttempts?: number;
  /** First backoff in ms, doubled per retry, with jitter. Default 500. */
  baseDelayMs?: number;
  /** Longest wait between two attempts, `Retry-After` included, in ms. Default 60000. */
  maxDelayMs?: number;
  /** Called as each item ends, in the order they end. */
  onOutcome?: (index: number, outcome: Outcome) => void;
  /** Once aborted, no item starts or retries; those left end as not sent. */
  signal?: AbortSignal;
}

/** A transport failure (no HTTP answer): worth a retry, unlike a TypeError from validation. */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super(`no answer from the API: ${causes(cause)}`);
    this.name = "NetworkError";
  }
}

/** A `Retry-After` header (seconds, or an HTTP date) as ms from `now`; `undefined` when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const NOT_SENT: Outcome = Object.freeze({ ok: false, httpStatus: null, error: "not sent: interrupted", attempts: 0 });

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

function failure(error: unknown): { status: number | null; transient: boolean; waitMs?: number; message: string } {
  if (error instanceof PropQApiError) {
    const transient = error.status === 429 || error.status >= 500;
    return {
      status: error.status,
      transient,
      waitMs: retryAfterMs(error.response.headers.get("retry-after")),
      message: error.message,
    };
  }
  if (error instanceof NetworkError) return { status: null, transient: true, message: error.message };
  if (error instanceof PropQAuthError) {
    return { status: error.status ?? null, transient: false, message: error.message };
  }
  return { status: null, transient: false, message: causes(error) };
}

/**
 * Sends every item through `send` (which resolves with the HTTP status), at
 * most `concurrency` at a time, in order.
 *
 * @returns One outcome per item, in the items' order.
 */
export async function sendAll<T>(
  items: readonly T[],
  send: (item: T) => Promise<number>,
  options: SendOptions,
): Promise<Outcome[]> {
  const { concurrency, maxAttempts = 4, baseDelayMs = 500, maxDelayMs = 60_000, onOutcome, signal } = options;
  const outcomes: Outcome[] = items.map(() => NOT_SENT);
  let pausedUntil = 0;
  let next = 0;

  async function attempts(item: T): Promise<Outcome> {
    let last: Outcome | undefined;
    for (let attempt = 1;; attempt++) {
      if (pausedUntil > Date.now()) await sleep(pausedUntil - Date.now(), signal);
      if (signal?.aborted) return last === undefined ? NOT_SENT : { ...last, error: `${last.error}, then interrupted` };
      try {
        return { ok: true, httpStatus: await send(item), error: null, attempts: attempt };
      } catch (error) {
        const { status, transient, waitMs, message } = failure(error);
        const tries = attempt > 1 ? ` (${attempt} attempts)` : "";
        last = { ok: false, httpStatus: status, error: message + tries, attempts: attempt };
        if (!transient || attempt >= maxAttempts) return last;
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        const delay = waitMs === undefined ? backoff / 2 + Math.random() * backoff / 2 : Math.min(waitMs, maxDelayMs);
        if (status === 429 && waitMs !== undefined) pausedUntil = Math.max(pausedUntil, Date.now() + delay);
        await sleep(delay, signal);
      }
    }
  }

  async function worker(): Promise<void> {
    while (next < items.length && !signal?.aborted) {
      const index = next++;
      outcomes[index] = await attempts(items[index]);
      onOutcome?.(index, outcomes[index]);
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return outcomes;
}

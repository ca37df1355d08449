/**
 * One retry loop and one backoff formula for the whole library: the token
 * source, FileCache and KvCache all retry through {@linkcode retry}.
 *
 * @module
 */

import { sleep } from "./_async.ts";

/** The longest a `Retry-After` header can make us wait: at least 30 s, as PropQ's clients must allow. */
export const RETRY_AFTER_CAP_MS = 30_000;

/** The longest backoff step: long enough for any transient fault, short of timer overflow. */
export const MAX_BACKOFF_MS = 60_000;

/**
 * The wait before retry number `attempt` (0-based), or `undefined` to give up
 * and throw the last error.
 */
export type DelayPolicy = (attempt: number, error: unknown) => number | undefined;

/**
 * Runs `operation` until it succeeds, fails with an error `isTransient` rejects,
 * or `delay` says to give up; waits `delay(attempt, error)` ms between attempts.
 */
export async function retry<T>(
  operation: () => Promise<T>,
  isTransient: (error: unknown) => boolean,
  delay: DelayPolicy,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const wait = isTransient(error) ? delay(attempt, error) : undefined;
      if (wait === undefined) throw error;
      await sleep(wait);
    }
  }
}

/**
 * Exponential backoff with "equal jitter": for retry `attempt` (0-based) the
 * wait lies in [d / 2, d] for d = min(baseMs·2^attempt, capMs), so waiters
 * spread out yet never retry at once.
 */
export function backoff(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(baseMs * 2 ** attempt, capMs);
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The wait a `Retry-After` value asks for, capped at {@linkcode RETRY_AFTER_CAP_MS}; `undefined` when unusable. */
export function retryAfterDelay(value: string | null, now: number): number | undefined {
  const asked = parseRetryAfter(value, now);
  return asked === undefined ? undefined : Math.min(asked, RETRY_AFTER_CAP_MS);
}

/** Milliseconds to wait from a `Retry-After` value (seconds or an HTTP date), or `undefined` when unusable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; Date.parse alone would take "-1" as a year.
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

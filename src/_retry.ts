/** The longest a `Retry-After` header can make us wait (SPEC: a cap of at least 30 s). */
export const RETRY_AFTER_CAP_MS = 30_000;

/** The longest backoff step: long enough for any transient fault, short of timer overflow. */
export const MAX_BACKOFF_MS = 60_000;

/**
 * The wait before retry number `attempt` (0-based): the server's `Retry-After`
 * (seconds or an HTTP date) when it sent one, capped; otherwise exponential
 * backoff with "equal jitter", so the wait lies in [d / 2, d] for
 * d = min(base·2^n, {@linkcode MAX_BACKOFF_MS}).
 */
export function retryDelay(
  attempt: number,
  baseMs: number,
  retryAfter: string | null,
  now: number,
  random: () => number = Math.random,
): number {
  const fromHeader = parseRetryAfter(retryAfter, now);
  if (fromHeader !== undefined) return Math.min(fromHeader, RETRY_AFTER_CAP_MS);
  const ceiling = Math.min(baseMs * 2 ** attempt, MAX_BACKOFF_MS);
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Milliseconds to wait from a `Retry-After` value, or `undefined` when unusable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; Date.parse alone would take "-1" as a year.
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as the signal
 * aborts. Only this caller stops waiting: `promise` itself goes on.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

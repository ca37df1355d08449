/**
 * Small async helpers every part of the library shares.
 *
 * @module
 */

/** setTimeout's limit: a longer delay fires at once (and may loop). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_TIMER_MS)));
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

/** The rejection of {@linkcode withinTime} when the work took too long. */
class TimeLimitExceeded extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/**
 * Settles like `work()`, or rejects with {@linkcode TimeLimitExceeded} after
 * `ms`. A synchronous throw of `work` becomes a rejection. The work itself is
 * not stopped; `onLate` receives its result if it arrives after the limit.
 */
export function withinTime<T>(work: () => Promise<T> | T, ms: number, onLate?: (value: T) => void): Promise<T> {
  let running: Promise<T>;
  try {
    running = Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<T>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new TimeLimitExceeded(ms));
    }, Math.min(ms, MAX_TIMER_MS));
    running.then(
      (value) => late ? onLate?.(value) : (clearTimeout(timer), resolve(value)),
      (error) => late ? undefined : (clearTimeout(timer), reject(error)),
    );
  });
}

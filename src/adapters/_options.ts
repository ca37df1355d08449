/**
 * Checks of the adapters' constructor options.
 *
 * @module
 */

import { MAX_TIMER_MS } from "../_async.ts";

/**
 * `value` when it is a positive number of ms a timer can wait (fractions
 * rounded up), `fallback` when it is `undefined`; else a RangeError naming
 * `owner` and the option.
 */
export function positiveMs(owner: string, name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new RangeError(
      `Cannot create ${owner}: ${name} must be a positive number of ms up to ${MAX_TIMER_MS}, got ${value}`,
    );
  }
  return Math.ceil(value);
}

/**
 * A clock that stops reading the real one while calls come densely.
 *
 * Reading `Date.now()` costs more than the rest of a cached `getToken()`
 * together, and a timer that marks the end of an event-loop turn as much as
 * about 50 readings (4 µs on Deno). So the clock reads the real one until
 * {@linkcode DENSE_READINGS} readings in a row land in one millisecond; then,
 * calls being dense, that reading stands for the next
 * {@linkcode READINGS_SPARED} calls of the same event-loop turn. A turn long
 * enough for that to matter (the refresh margins are seconds to minutes) is a
 * stalled process anyway. Sparse calls, one per request say, cost one reading
 * and no timer.
 *
 * @module
 */

/** Readings in a row within one millisecond that make calls dense. */
export const DENSE_READINGS = 50;
/** Calls served by one reading once calls are dense, at most until the turn ends. */
export const READINGS_SPARED = 1000;

/** Schedules `callback` once the current event-loop turn is over. */
export type AfterTurn = (callback: () => void) => void;

const afterTimers: AfterTurn = (callback) => void setTimeout(callback, 0);

/** A clock over `read` that skips readings while calls are dense. */
export class CoarseClock {
  readonly #read: () => number;
  readonly #afterTurn: AfterTurn;
  #last = NaN;
  #same = 0;
  #spared = 0;
  #turnEnding = false;
  readonly #endTurn = () => {
    this.#spared = 0;
    this.#same = 0;
    this.#turnEnding = false;
  };

  /**
   * @param read The real clock, in epoch ms.
   * @param afterTurn Runs a callback once the event-loop turn ends (default: a 0 ms timer).
   */
  constructor(read: () => number, afterTurn: AfterTurn = afterTimers) {
    this.#read = read;
    this.#afterTurn = afterTurn;
  }

  /** The time in epoch ms: a real reading, or the last one while calls are dense. */
  now(): number {
    if (this.#spared > 0) {
      this.#spared--;
      return this.#last;
    }
    const now = this.#read();
    if (now !== this.#last) {
      this.#last = now;
      this.#same = 0;
    } else if (++this.#same >= DENSE_READINGS) {
      this.#spared = READINGS_SPARED;
      if (!this.#turnEnding) {
        this.#turnEnding = true;
        this.#afterTurn(this.#endTurn);
      }
    }
    return now;
  }

  /** Forgets the spared readings: the next call reads the real clock. */
  reset(): void {
    this.#spared = 0;
  }
}

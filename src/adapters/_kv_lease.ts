/**
 * The lock of `KvCache`: a lease key claimed with an atomic check, renewed
 * while held, and taken over only once this instance has watched it stay
 * unchanged for a whole lease, by its own clock.
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";
import { MAX_TIMER_MS, sleep } from "../_async.ts";
import type { KvLike } from "./_kv_like.ts";
import { decode, encode, kvCall, pause } from "./_kv_ops.ts";

/** Releases a lease; safe to call twice. */
export type Release = () => Promise<void>;

/** The timing of a lease. */
export interface LeaseOptions {
  /** A lease unchanged for this long (as this instance measures time) belongs to a dead holder. */
  leaseMs: number;
  /** Give up waiting after this long, however alive the holder is. */
  waitMs: number;
}

function claim(kv: KvLike, lease: string[], versionstamp: string | null, leaseMs: number) {
  // `leaseMs` is the holder's promise to waiters: a duration, which needs no shared clock. The expiry is for
  // instances of earlier versions, which decide by it; this one never reads it.
  return kvCall(() =>
    kv.atomic()
      .check({ key: lease, versionstamp })
      .set(lease, encode({ expiresAt: Date.now() + leaseMs, leaseMs }), { expireIn: leaseMs })
      .commit()
  );
}

/** The lease time its holder wrote, else this instance's own (a lease of an earlier version, or garbage). */
function leaseMsOf(value: unknown, fallback: number): number {
  const declared = (decode(value) as { leaseMs?: unknown } | null | undefined)?.leaseMs;
  return typeof declared === "number" && declared > 0 && declared <= MAX_TIMER_MS ? declared : fallback;
}

/**
 * Takes the lease at key `lease`. A live holder renews it every third of its
 * `leaseMs`, which gives it a new versionstamp; a waiter takes it over only
 * after watching one versionstamp for that holder's `leaseMs` (written in the
 * lease) of its own monotonic time, so no host's wall clock, its own included,
 * decides a takeover. Waiters poll with backoff; after `waitMs` they get a
 * release that releases nothing.
 */
export async function acquireLease(kv: KvLike, lease: string[], options: LeaseOptions): Promise<Release> {
  const started = performance.now();
  let seen: { versionstamp: string; since: number } | undefined;
  for (let attempt = 0;; attempt++) {
    const { value, versionstamp } = await kvCall(() => kv.get(lease));
    const now = performance.now();
    if (versionstamp !== null && versionstamp !== seen?.versionstamp) seen = { versionstamp, since: now };
    if (versionstamp === null || now - seen!.since >= leaseMsOf(value, options.leaseMs)) {
      const claimed = await claim(kv, lease, versionstamp, options.leaseMs);
      if (claimed.ok) return hold(kv, lease, claimed.versionstamp, options.leaseMs);
    }
    const left = options.waitMs - (performance.now() - started);
    if (left <= 0) return () => Promise.resolve();
    await sleep(Math.min(left, pause(attempt)));
  }
}

/**
 * Keeps a claimed lease alive while its holder works (a token request with
 * retries and Retry-After can outlast many leases); returns its release.
 * Renewal never rejects: a fault of the store is retried at the next renewal,
 * and a lease found taken over is no longer renewed.
 */
function hold(kv: KvLike, lease: string[], claimed: string, leaseMs: number): Release {
  let versionstamp: string | undefined = claimed;
  let released = false;
  let renewal: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const renew = async () => {
    try {
      const renewed = await claim(kv, lease, versionstamp!, leaseMs);
      versionstamp = renewed.ok ? renewed.versionstamp : undefined;
    } catch {
      // Locked, unreachable, a handle that throws: keep the lease we have and try again next time.
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      renewal = renew().then(() => {
        if (!released && versionstamp !== undefined) schedule();
      });
    }, Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref();
  };
  schedule();
  return async () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    await renewal;
    const held = versionstamp;
    versionstamp = undefined;
    // Once our lease was taken over, it is another instance's: leave it alone.
    if (held !== undefined) {
      await kvCall(() => kv.atomic().check({ key: lease, versionstamp: held }).delete(lease).commit());
    }
  };
}

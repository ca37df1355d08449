/**
 * A fleet lease in Redis: claimed with `SET NX PX`, renewed by its owner while
 * held, released by its owner only, each through one atomic script (Redis
 * docs, "Distributed locks with Redis", the single-instance algorithm).
 *
 * @module
 */

import { type RedisCommand, replyNumber, replyText, send, unref } from "./_redis_command.ts";

/** Releases a lease; a second call, or a call after the lease lapsed, leaves others' leases alone. */
export type Release = () => Promise<void>;

/** Sets the lease's life to ARGV[2] ms if ARGV[1] still owns it; 1 when renewed, 0 when lost. */
const RENEW =
  'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0';

/** Deletes the lease if ARGV[1] still owns it. */
const RELEASE = 'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0';

/** How a lease is claimed and held. */
export interface LeaseOptions {
  /** The lease's life unless renewed, in ms. */
  leaseMs: number;
  /** The time limit of each command, in ms. */
  commandMs: number;
}

/** Claims `lease` for a new random owner; its release when claimed, `undefined` when another holds it. */
export async function claimLease(
  command: RedisCommand,
  lease: string,
  options: LeaseOptions,
): Promise<Release | undefined> {
  const owner = crypto.randomUUID();
  const reply = await send(command, ["SET", lease, owner, "NX", "PX", String(options.leaseMs)], options.commandMs);
  return replyText(reply) === "OK" ? hold(command, lease, owner, options) : undefined;
}

/**
 * Renews a claimed lease every third of `leaseMs` until released, so a holder
 * working longer than one lease (a token request with retries and a
 * Retry-After) keeps it; a holder that died stops renewing, and Redis expires
 * its lease on Redis' own clock. The timer never keeps the process alive.
 */
function hold(command: RedisCommand, lease: string, owner: string, options: LeaseOptions): Release {
  const every = Math.max(1, Math.floor(options.leaseMs / 3));
  let held = true;
  let renewing = false;
  let renewedAt = Date.now();
  const renew = async () => {
    const args = ["EVAL", RENEW, "1", lease, owner, String(options.leaseMs)];
    const started = Date.now();
    try {
      // 0: the lease lapsed (this process froze longer than leaseMs) and may be another's now.
      if (replyNumber(await send(command, args, every)) === 0) stop();
      else renewedAt = started;
    } catch {
      // A missed renewal is retried at the next tick, until the lease has surely lapsed
      // (a connection cut for good): no timer outlives what it guards.
      if (Date.now() - renewedAt >= options.leaseMs) stop();
    }
  };
  const timer = setInterval(() => {
    if (renewing) return;
    renewing = true;
    renew().finally(() => renewing = false);
  }, every);
  unref(timer);
  function stop(): boolean {
    clearInterval(timer);
    const wasHeld = held;
    held = false;
    return wasHeld;
  }
  return async () => {
    if (stop()) await send(command, ["EVAL", RELEASE, "1", lease, owner], options.commandMs);
  };
}

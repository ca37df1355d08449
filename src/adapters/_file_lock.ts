/**
 * Lock files shared by processes: created exclusively, refreshed while held,
 * taken over once their holder has stopped refreshing them.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, stat, unlink, utimes } from "node:fs/promises";
import { dirname } from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { sleep } from "../_async.ts";
import { backoff } from "../_retry.ts";
import { errorCode, retryTransient } from "./_file_io.ts";

/** How a lock is waited for. */
export interface LockOptions {
  /** A lock file not refreshed for this long belongs to a dead holder. */
  staleMs: number;
  /** Give up waiting after this long. */
  timeoutMs: number;
}

/** Releases a lock; safe to call twice. */
export type Release = () => Promise<void>;

const POLL_CEILING_MS = 100;

/**
 * Takes the lock file at `path`, creating its directory at mode 0700 when
 * missing. Waiters poll with a short jittered backoff and take over a stale
 * lock. Rejects after `timeoutMs` (with code `ETIMEDOUT`), or at once when the
 * file system refuses for another reason than a lock already held.
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Release> {
  const id = randomUUID();
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0;; attempt++) {
    if (await create(path, id)) return hold(path, id, options.staleMs);
    if (Date.now() >= deadline) {
      throw Object.assign(new Error(`Lock file ${path} still held after ${options.timeoutMs} ms`), {
        code: "ETIMEDOUT",
      });
    }
    if (!await takeOverStale(path, options.staleMs)) {
      await sleep(backoff(attempt, 10, POLL_CEILING_MS));
    }
  }
}

/** Creates the lock file holding `id`; `false` when it already exists. */
async function create(path: string, id: string): Promise<boolean> {
  let handle;
  try {
    handle = await retryTransient(() => open(path, "wx", 0o600));
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    if (errorCode(error) !== "ENOENT") throw error;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    try {
      handle = await retryTransient(() => open(path, "wx", 0o600));
    } catch (again) {
      if (errorCode(again) === "EEXIST") return false;
      throw again;
    }
  }
  try {
    await handle.writeFile(id, "utf8");
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw error;
  }
  await handle.close();
  return true;
}

/** Holds the lock at `path`: refreshes it until released. */
function hold(path: string, id: string, staleMs: number): Release {
  // Touching the file three times per stale period keeps a live holder's lock
  // fresh through a slow token request (retries, Retry-After): only a holder
  // that died, or froze that long, loses it.
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, Math.max(staleMs / 3, 10));
  heartbeat.unref();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    // After a takeover the file is someone else's lock: leave it alone.
    if ((await inspect(path))?.id === id) await remove(path);
  };
}

interface Seen {
  id: string;
  mtimeMs: number;
}

async function inspect(path: string): Promise<Seen | undefined> {
  try {
    const { mtimeMs } = await retryTransient(() => stat(path));
    return { id: await retryTransient(() => readFile(path, "utf8")), mtimeMs };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

function isStale(seen: Seen, staleMs: number): boolean {
  // An mtime far in the future means the clock was set back: without `abs`, a
  // dead holder's lock would look fresh until the clock caught up.
  return Math.abs(Date.now() - seen.mtimeMs) >= staleMs;
}

/**
 * Removes the lock at `path` if it is stale. `true` when the caller should try
 * to create it again at once (removed, or released meanwhile).
 */
async function takeOverStale(path: string, staleMs: number): Promise<boolean> {
  const seen = await inspect(path);
  if (seen === undefined) return true;
  if (!isStale(seen, staleMs)) return false;
  // One waiter at a time removes a stale lock, and only the very file it saw
  // stale: two waiters removing at once, the second would remove the lock the
  // first has just created.
  const guard = `${path}.takeover`;
  if (!await create(guard, randomUUID())) {
    await removeIfStale(guard, staleMs); // left by a waiter that died mid-takeover
    return false;
  }
  try {
    const current = await inspect(path);
    if (current?.id === seen.id && current.mtimeMs === seen.mtimeMs) await remove(path);
  } finally {
    await remove(guard).catch(() => {});
  }
  return true;
}

async function removeIfStale(path: string, staleMs: number): Promise<void> {
  const seen = await inspect(path);
  if (seen !== undefined && isStale(seen, staleMs)) await remove(path);
}

async function remove(path: string): Promise<void> {
  try {
    await retryTransient(() => unlink(path));
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

/**
 * Lock files shared by processes: created exclusively, refreshed while held,
 * taken over once their holder has stopped refreshing them.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { mkdir, open, unlink, utimes } from "node:fs/promises";
import { dirname } from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { sleep } from "../_async.ts";
import { backoff } from "../_retry.ts";
import { errorCode, readRegularFile, retryTransient } from "./_file_io.ts";

/** How a lock is waited for. */
export interface LockOptions {
  /** A lock file nobody refreshed for this long belongs to a dead holder. */
  staleMs: number;
  /** Give up waiting after this long, however alive the holder is. */
  timeoutMs: number;
}

/** Releases a lock; safe to call twice. */
export type Release = () => Promise<void>;

const POLL_CEILING_MS = 100;
/** A lock file holds an id of 36 characters: anything much larger is not one of ours. */
const LOCK_FILE_BYTES = 1024;
/** Dead takeover guards skipped before a waiter gives up taking over (and waits instead). */
const GUARD_GENERATIONS = 8;

/** The lock file as one waiter saw it, and since when (its own monotonic time) it has looked the same. */
interface Seen {
  id: string;
  mtimeMs: number;
  since: number;
}

/**
 * Takes the lock file at `path`, creating its directory at mode 0700 when
 * missing. Waiters poll with a short jittered backoff and keep waiting while
 * the holder refreshes its lock; they take over a lock nobody refreshed for
 * `staleMs`. Rejects after `timeoutMs` (with code `ETIMEDOUT`), or at once
 * when the file system refuses for another reason than a lock already held
 * (a lock path that is not a small regular file included).
 */
export async function acquireLock(path: string, options: LockOptions): Promise<Release> {
  const id = randomUUID();
  const started = performance.now();
  let seen: Seen | undefined;
  for (let attempt = 0;; attempt++) {
    if (await create(path, id)) return hold(path, id, options.staleMs);
    if (performance.now() - started >= options.timeoutMs) {
      throw Object.assign(new Error(`Lock file ${path} still held after ${options.timeoutMs} ms`), {
        code: "ETIMEDOUT",
      });
    }
    seen = await observe(path, seen);
    const retryNow = seen === undefined || (isStale(seen, options.staleMs) && await takeOver(path, seen, options));
    if (!retryNow) await sleep(backoff(attempt, 10, POLL_CEILING_MS));
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
    await removeIfOwned(path, id); // after a takeover the file is someone else's lock: leave it alone
  };
}

/** The lock file now, `since` carried over from `previous` while it has not changed. */
async function observe(path: string, previous: Seen | undefined): Promise<Seen | undefined> {
  const file = await readRegularFile(path, LOCK_FILE_BYTES);
  if (file === undefined) return undefined;
  const unchanged = previous?.id === file.text && previous.mtimeMs === file.mtimeMs;
  return { id: file.text, mtimeMs: file.mtimeMs, since: unchanged ? previous.since : performance.now() };
}

/**
 * Stale when the file is older than `staleMs` by this machine's clock, or when
 * this waiter watched it stay unchanged for `staleMs` of its own monotonic
 * time: the second rule still holds after the clock was set back, when a dead
 * holder's mtime lies in the future.
 */
function isStale(seen: Seen, staleMs: number): boolean {
  return Date.now() - seen.mtimeMs >= staleMs || performance.now() - seen.since >= staleMs;
}

/**
 * Removes the stale lock `seen` at `path`, unless it changed meanwhile. `true`
 * when the caller should try to create the lock again at once.
 *
 * One waiter at a time does it, holding a guard file created exclusively: two
 * waiters removing at once, the second would remove the lock the first has just
 * created. A guard lives for a few file operations, so one older than `staleMs`
 * was left by a waiter that died mid-takeover. It is never removed by another
 * waiter (checking then removing would race with its replacement): the next
 * waiters use the guard of the next generation instead, and the one that gets
 * it removes the dead ones below it.
 */
async function takeOver(path: string, seen: Seen, options: LockOptions): Promise<boolean> {
  const id = randomUUID();
  for (let generation = 0; generation < GUARD_GENERATIONS; generation++) {
    const guard = guardPath(path, generation);
    if (!await create(guard, id)) {
      const other = await readRegularFile(guard, LOCK_FILE_BYTES);
      if (other === undefined) return true; // gone meanwhile: start over
      if (Math.abs(Date.now() - other.mtimeMs) < options.staleMs) return false; // in use: wait
      continue;
    }
    try {
      const current = await observe(path, undefined);
      if (current?.id === seen.id && current.mtimeMs === seen.mtimeMs) await remove(path);
      for (let dead = 0; dead < generation; dead++) await remove(guardPath(path, dead));
    } finally {
      await removeIfOwned(guard, id);
    }
    return true;
  }
  return false;
}

/** The guard file of takeovers of the lock at `path`, for one generation. */
export function guardPath(path: string, generation: number): string {
  return `${path}.${generation}.takeover`;
}

async function removeIfOwned(path: string, id: string): Promise<void> {
  if ((await readRegularFile(path, LOCK_FILE_BYTES))?.text === id) await remove(path);
}

async function remove(path: string): Promise<void> {
  try {
    await retryTransient(() => unlink(path));
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

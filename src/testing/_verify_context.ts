/**
 * What the checks of `verifyTokenCache` share: the run's keys and handles,
 * the options, and small assertion and timing helpers that need no test
 * runner.
 *
 * @module
 */

import { cachedTokenFrom } from "../_cached_token.ts";
import type { CachedToken, TokenCache } from "../token_cache.ts";

/** The options a check reads, defaults filled in. */
export interface CheckOptions {
  abandonLock?: (key: string) => Promise<void>;
  corrupt?: (key: string) => Promise<void>;
  takeoverMs: number;
  timeoutMs: number;
}

/** One run of the suite, as a check sees it. */
export interface Context {
  /** A new handle from `make()`: another process, as far as the cache can tell. */
  cache(): Promise<TokenCache>;
  /** A key unique to this run and `label`; deleted when the run ends. */
  key(label: string): string;
  /**
   * Returns `lock`, releasing it once granted after the check ends, whatever
   * the check did: a check that fails must not leave a lock behind. (Keys are
   * unique to a check, so a second release there disturbs no other check.)
   */
  track(lock: Promise<() => Promise<void>>): Promise<() => Promise<void>>;
  options: CheckOptions;
}

/** One named part of the contract. */
export interface Check {
  name: string;
  /** Runs only on caches with a `lock` method. */
  lock?: boolean;
  /** Runs only when this is true of the options. */
  needs?: (options: CheckOptions) => boolean;
  run(context: Context): Promise<void>;
}

/** How long a waiter must stay blocked for a lock to count as held. */
export const BLOCKED_MS = 300;

/** Throws `message` unless `condition` holds. */
export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A short, printable form of what a cache returned. */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** The message of whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles like `promise`, or rejects naming `what` once `ms` passed. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** Whether `promise` settles (either way) within `ms`. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const settled = await Promise.race([promise.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

/** A token of this run: header-safe, unique, with `lifeMs` left. */
export function tokenFor(label: string, lifeMs = 3_600_000): CachedToken {
  const expiresAt = Date.now() + lifeMs;
  return { accessToken: `verify.${label}.${crypto.randomUUID()}`, expiresAt, issuedAt: expiresAt - 3_600_000 };
}

/** Whether `read` is a token a client could send now. */
export function isLiveToken(read: unknown): boolean {
  const token = cachedTokenFrom(read);
  return token !== undefined && token.expiresAt > Date.now();
}

/** Throws unless `cache` serves `token` (same accessToken and expiresAt) under `key`. */
export async function expectToken(cache: TokenCache, key: string, token: CachedToken, what: string): Promise<void> {
  const read = await cache.get(key);
  expect(
    read?.accessToken === token.accessToken && read.expiresAt === token.expiresAt,
    `${what} returned ${show(read)}, not the token stored`,
  );
}

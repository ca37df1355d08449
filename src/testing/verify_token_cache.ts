/**
 * The conformance suite of the {@linkcode TokenCache} contract, for any test
 * runner: {@linkcode verifyTokenCache}.
 *
 * @module
 */

import { MAX_TIMER_MS } from "../_async.ts";
import type { TokenCache } from "../token_cache.ts";
import { STORAGE_CHECKS } from "./_verify_checks.ts";
import { type Check, type CheckOptions, type Context, messageOf, within } from "./_verify_context.ts";
import { LOCK_CHECKS } from "./_verify_lock_checks.ts";

/** Options of {@linkcode verifyTokenCache}. */
export interface VerifyTokenCacheOptions {
  /**
   * Takes the lock of `key` in a holder that then dies without releasing it:
   * a process killed, a connection cut. With it, the suite checks that
   * another handle gets the lock within `takeoverMs`; without it, that check
   * does not run (and is not among the names resolved).
   */
  abandonLock?: (key: string) => Promise<void>;
  /**
   * Writes garbage where the cache keeps `key` (bytes that are not JSON,
   * JSON that is not a token). With it, the suite checks that `get` takes it
   * for a miss and `set` replaces it.
   */
  corrupt?: (key: string) => Promise<void>;
  /** How long a takeover after `abandonLock` may take, in ms: the lock's lease plus slack. Default 30000. */
  takeoverMs?: number;
  /** The time limit of each check, in ms: a cache that hangs fails the check, it does not hang the suite. Default 10000. */
  timeoutMs?: number;
}

const CHECKS: Check[] = [...STORAGE_CHECKS, ...LOCK_CHECKS];

function ms(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0 && value <= MAX_TIMER_MS)) {
    throw new RangeError(
      `verifyTokenCache: ${name} must be a positive number of ms up to ${MAX_TIMER_MS}, got ${value}`,
    );
  }
  return value;
}

function checkOptions(options: VerifyTokenCacheOptions): CheckOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("verifyTokenCache: options must be an object");
  }
  const { abandonLock, corrupt } = options;
  for (const [name, value] of Object.entries({ abandonLock, corrupt })) {
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(`verifyTokenCache: ${name} must be a function`);
    }
  }
  return {
    abandonLock,
    corrupt,
    takeoverMs: ms("takeoverMs", options.takeoverMs, 30_000),
    timeoutMs: ms("timeoutMs", options.timeoutMs, 10_000),
  };
}

function isCache(value: unknown): value is TokenCache {
  const cache = value as Partial<TokenCache> | null | undefined;
  return typeof cache?.get === "function" && typeof cache.set === "function" && typeof cache.delete === "function";
}

/**
 * Runs the {@linkcode TokenCache} contract against a cache, with any test
 * runner (or none): plain async checks, one after the other.
 *
 * - `round trip`, `keys kept apart` (keys with colons, case, glob and path
 *   characters, Unicode, 240+ characters), `replace`, `expired entries never
 *   served` (it waits one second for a token to expire), `delete removes only
 *   its key`, `garbage tolerated` (`set` of malformed tokens may reject, and
 *   `get` never returns anything but a live token or `undefined`);
 * - for a cache with `lock`: `lock: one holder at a time`, `lock: release by
 *   the owner only` (a previous holder's release, called again, must not
 *   free the current holder's lock), and, given `abandonLock`, `lock:
 *   takeover after the holder dies`.
 *
 * Every check calls `make` for handles of its own: return one shared
 * instance (an in-memory cache), or a new handle on the same store each time
 * (what another process would open). Checks write only keys starting with
 * `verify-token-cache:` and a random run id, and delete them at the end, so
 * a store in use is safe. A lock waiter must wait longer than 300 ms.
 *
 * @param make Returns the cache under test: the same instance, or a new handle on the same store.
 * @param options Hooks for what a generic suite cannot do by itself, and time limits.
 * @returns The names of the checks that ran, all passed; checks that did not
 * apply (no `lock`, no `abandonLock`) are not among them.
 * @throws {AggregateError} listing every failed check and why, one per line; its `errors` hold one
 * Error per failed check, whose `check` property is the check's name and whose `cause` is what the check threw.
 * @throws {TypeError} when `make` is not a function or does not return a cache, or an option has the wrong type.
 * @throws {RangeError} when `takeoverMs` or `timeoutMs` is not a positive number of ms.
 *
 * @example Verifying your own adapter (a Map here; Workers KV, DynamoDB or Postgres alike)
 * ```ts
 * import type { CachedToken, TokenCache } from "@propq/auth";
 * import { verifyTokenCache } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const store = new Map<string, string>();
 * class MapCache implements TokenCache {
 *   get(key: string): Promise<CachedToken | undefined> {
 *     const token = JSON.parse(store.get(key) ?? "null");
 *     return Promise.resolve(token !== null && token.expiresAt > Date.now() ? token : undefined);
 *   }
 *   set(key: string, { accessToken, expiresAt }: CachedToken): Promise<void> {
 *     if (typeof accessToken !== "string" || !/^[\x21-\x7e]+$/.test(accessToken) || !Number.isFinite(expiresAt)) {
 *       return Promise.reject(new TypeError("not a token"));
 *     }
 *     store.set(key, JSON.stringify({ accessToken, expiresAt }));
 *     return Promise.resolve();
 *   }
 *   delete(key: string): Promise<void> {
 *     store.delete(key);
 *     return Promise.resolve();
 *   }
 * }
 *
 * const passed = await verifyTokenCache(() => new MapCache());
 * assert.deepEqual(passed, [
 *   "round trip",
 *   "keys kept apart",
 *   "replace",
 *   "expired entries never served",
 *   "delete removes only its key",
 *   "garbage tolerated",
 * ]); // no lock(), so no lock checks
 * ```
 *
 * @example A broken cache is rejected, every failure listed
 * ```ts
 * import type { CachedToken } from "@propq/auth";
 * import { verifyTokenCache } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const store = new Map<string, CachedToken>();
 * const servesExpired = {
 *   get: (key: string) => Promise.resolve(store.get(key)), // forgets to check expiresAt
 *   set: (key: string, token: CachedToken) => Promise.resolve(void store.set(key, token)),
 *   delete: (key: string) => Promise.resolve(void store.delete(key)),
 * };
 * await assert.rejects(verifyTokenCache(() => servesExpired), (error: AggregateError) => {
 *   assert.match(error.message, /expired entries never served: get\(\) served a token/);
 *   assert.match(error.message, /garbage tolerated: set\(\) of an empty accessToken, then get\(\) returned/);
 *   assert.equal(error.errors.length, 2);
 *   return true;
 * });
 * ```
 */
export async function verifyTokenCache(
  make: () => TokenCache | Promise<TokenCache>,
  options: VerifyTokenCacheOptions = {},
): Promise<string[]> {
  if (typeof make !== "function") {
    throw new TypeError("verifyTokenCache: make must be a function returning a TokenCache");
  }
  const settings = checkOptions(options);
  const cache = async () => {
    const made = await make();
    if (!isCache(made)) throw new TypeError("verifyTokenCache: make() must return a TokenCache (get, set, delete)");
    return made;
  };
  const first = await cache();
  const run = `verify-token-cache:${crypto.randomUUID()}`;
  const keys = new Set<string>();
  const passed: string[] = [];
  const failures: Error[] = [];
  for (const check of CHECKS) {
    if (check.lock === true && typeof first.lock !== "function") continue;
    if (check.needs !== undefined && !check.needs(settings)) continue;
    const tracked: Promise<() => Promise<void>>[] = [];
    const context: Context = {
      cache,
      key(label) {
        const key = `${run}:${label}`;
        keys.add(key);
        return key;
      },
      track(lock) {
        tracked.push(lock);
        return lock;
      },
      options: settings,
    };
    const limit = settings.timeoutMs + (check.needs ? settings.takeoverMs : 0);
    try {
      await within(check.run(context), limit, "the check");
      passed.push(check.name);
    } catch (error) {
      failures.push(
        Object.assign(new Error(`${check.name}: ${messageOf(error)}`, { cause: error }), { check: check.name }),
      );
    }
    for (const lock of tracked) lock.then((release) => release().catch(() => {}), () => {});
  }
  const cleanup = Promise.all([...keys].map((key) => first.delete(key)));
  await within(cleanup, settings.timeoutMs, "cleanup").catch(() => {});
  if (failures.length > 0) {
    const list = failures.map((failure) => `- ${failure.message}`).join("\n");
    throw new AggregateError(
      failures,
      `TokenCache failed ${failures.length} of ${failures.length + passed.length} checks:\n${list}`,
    );
  }
  return passed;
}

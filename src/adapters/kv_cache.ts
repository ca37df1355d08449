/**
 * A token cache in Deno KV, shared by every instance of a fleet: Deno Deploy's
 * globally replicated KV, a self-hosted `denokv`, or one sqlite file shared by
 * the processes of a machine, from Deno (`Deno.openKv()`) and Node
 * (`openKv()` of the npm package `@deno/kv`) alike.
 *
 * @module
 */

import { cachedTokenFrom, isTime } from "../_cached_token.ts";
import { sleep } from "../_async.ts";
import { backoff, retry } from "../_retry.ts";
import { positiveMs } from "./_options.ts";
import type { CachedToken, TokenCache } from "../token_cache.ts";

export type { CachedToken, TokenCache } from "../token_cache.ts";

/**
 * One atomic operation, as built by {@linkcode KvLike.atomic}: the three
 * methods of `Deno.AtomicOperation` that {@linkcode KvCache} calls.
 */
export interface KvAtomicLike {
  /** Makes the commit fail unless `key` still has this versionstamp (`null`: absent). */
  check(check: { key: string[]; versionstamp: string | null }): KvAtomicLike;
  /** Sets `key` to `value` if the checks pass, removing it after `expireIn` ms. */
  set(key: string[], value: Uint8Array, options?: { expireIn?: number }): KvAtomicLike;
  /** Deletes `key` if the checks pass. */
  delete(key: string[]): KvAtomicLike;
  /** Applies the operation; `ok` is false when a check failed. */
  commit(): Promise<{ ok: true; versionstamp: string } | { ok: false }>;
}

/**
 * The methods of a KV handle that {@linkcode KvCache} calls, typed
 * structurally: a `Deno.Kv` and `@deno/kv`'s `Kv` both fit, and this package
 * depends on neither.
 *
 * @example A Deno KV handle fits
 * ```ts
 * import type { KvLike } from "@propq/auth/kv";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const handle: KvLike = kv;
 * assert.equal((await handle.get(["nothing"])).versionstamp, null);
 * kv.close();
 * ```
 */
export interface KvLike {
  /** Reads `key`; `versionstamp` is `null` when it is absent. */
  get(key: string[]): Promise<{ value: unknown; versionstamp: string | null }>;
  /** Writes `key`, removing it after `expireIn` ms. */
  set(key: string[], value: Uint8Array, options?: { expireIn?: number }): Promise<unknown>;
  /** Deletes `key`. */
  delete(key: string[]): Promise<void>;
  /** Starts an atomic operation. */
  atomic(): KvAtomicLike;
}

/** Options of the {@linkcode KvCache} constructor. */
export interface KvCacheOptions {
  /**
   * The first parts of every key written, e.g. `["my-app", "propq"]`.
   * Default `["propq-auth"]`.
   */
  prefix?: readonly string[];
  /**
   * How long a lock lasts unless renewed, in ms: the most a crashed
   * instance can hold up the others. A live holder renews it every third of
   * this time, however long its token request takes. Default 20000.
   */
  leaseMs?: number;
  /**
   * The longest {@linkcode KvCache.lock} waits for another instance's lock
   * before going on without it, in ms. Default 30000, longer than the lease,
   * so a crashed holder's lock is taken over rather than waited out.
   */
  waitMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// sqlite answers "database is locked" while another process writes the same
// file; these waits (about a second in all) outlast any write of ours.
const LOCKED_RETRIES = 8;
const LOCKED_PATTERN = /database (table )?is locked|SQLITE_BUSY/i;

function isLocked(error: unknown): boolean {
  return LOCKED_PATTERN.test(error instanceof Error ? error.message : String(error));
}

/** 20 ms doubling to a 250 ms cap, each wait jittered down to half so waiters spread out. */
function pause(attempt: number): number {
  return backoff(attempt, 20, 250);
}

/** Runs `operation`, retrying it briefly while the store is locked by another writer. */
function retryIfLocked<T>(operation: () => Promise<T>): Promise<T> {
  return retry(operation, isLocked, (attempt) => attempt < LOCKED_RETRIES ? pause(attempt) : undefined);
}

function encode(value: object): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** The JSON in `value`, or `undefined` for anything else (a V8-serialized value, broken bytes). */
function decode(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    return JSON.parse(decoder.decode(value));
  } catch {
    return undefined;
  }
}

/**
 * Keeps tokens in Deno KV, so every instance of a fleet (Deno Deploy
 * isolates, many workers, Deno and Node processes on one sqlite file) reuses
 * one token, and instances starting cold make a single token request between
 * them: {@linkcode KvCache.lock} is a short lease claimed with an atomic check.
 *
 * Entries live under `[...prefix, key]` as JSON bytes (so Deno and Node read
 * each other's), expire with the token (`expireIn`, and the expiry kept in the
 * value, since KV removes expired keys lazily), and never hold the client
 * secret. Leases live under `[...prefix, "lock", key]`.
 *
 * @example Caching a client's token in Deno KV
 * ```ts
 * import { createClient } from "@propq/auth";
 * import { KvCache } from "@propq/auth/kv";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer();
 * const kv = await Deno.openKv(":memory:"); // Deno Deploy: Deno.openKv()
 * const options = {
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 * };
 * const token = await createClient({ ...options, cache: new KvCache(kv) }).getToken();
 * // Another instance on the same KV finds the token there.
 * const other = createClient({ ...options, cache: new KvCache(kv) });
 * assert.equal(await other.getToken(), token);
 * assert.equal(server.tokenRequests, 1);
 * kv.close();
 * await server.close();
 * ```
 *
 * @example Two instances taking turns with the lock
 * ```ts
 * import { KvCache } from "@propq/auth/kv";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const first = new KvCache(kv);
 * const second = new KvCache(kv, { waitMs: 100 });
 * const release = await first.lock("k");
 * const started = Date.now();
 * const giveUp = await second.lock("k"); // held: waits 100 ms, then goes on
 * assert.ok(Date.now() - started >= 90);
 * await giveUp(); // releases nothing: the lock is still first's
 * await release();
 * await (await second.lock("k"))(); // free again: taken at once
 * kv.close();
 * ```
 */
export class KvCache implements TokenCache {
  #kv: KvLike;
  #prefix: string[];
  #leaseMs: number;
  #waitMs: number;

  /**
   * Wraps an open KV handle. Opens nothing and starts nothing: the handle
   * stays yours to close.
   *
   * @param kv An open handle: `await Deno.openKv()` on Deno, `await openKv(path)`
   * from `@deno/kv` on Node.
   * @param options The key prefix and the lock's timing.
   * @throws {TypeError} when `kv` is not a KV handle or `prefix` is not an array of strings.
   * @throws {RangeError} when `leaseMs` or `waitMs` is not a positive number.
   */
  constructor(kv: KvLike, options: KvCacheOptions = {}) {
    const handle = kv as Partial<KvLike> | null | undefined;
    if (
      typeof handle?.get !== "function" || typeof handle.set !== "function" ||
      typeof handle.delete !== "function" || typeof handle.atomic !== "function"
    ) {
      throw new TypeError("Cannot create KvCache: kv must be an open KV handle, e.g. await Deno.openKv()");
    }
    const prefix = options.prefix ?? ["propq-auth"];
    if (!Array.isArray(prefix) || !prefix.every((part) => typeof part === "string")) {
      throw new TypeError("Cannot create KvCache: prefix must be an array of strings");
    }
    this.#kv = kv;
    this.#prefix = [...prefix];
    this.#leaseMs = positiveMs("KvCache", "leaseMs", options.leaseMs, 20_000);
    this.#waitMs = positiveMs("KvCache", "waitMs", options.waitMs, 30_000);
  }

  /**
   * Returns the token stored under `key` while it has life left.
   *
   * @param key The cache key.
   * @returns The token, or `undefined` when absent, expired or unreadable
   * (not JSON bytes, or not a token).
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   */
  async get(key: string): Promise<CachedToken | undefined> {
    const entry = await retryIfLocked(() => this.#kv.get([...this.#prefix, key]));
    const token = cachedTokenFrom(decode(entry.value));
    return token !== undefined && token.expiresAt > Date.now() ? token : undefined;
  }

  /**
   * Stores `token` under `key` until it expires; an already expired token
   * removes the entry instead.
   *
   * @param key The cache key.
   * @param token The token; only `accessToken`, `expiresAt` and `issuedAt` are stored.
   * @returns Once written.
   * @throws {TypeError} when `token` has no non-empty `accessToken` or no finite `expiresAt`.
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   */
  async set(key: string, token: CachedToken): Promise<void> {
    const stored = cachedTokenFrom(token);
    if (stored === undefined) {
      throw new TypeError("Cannot cache token: it needs a non-empty accessToken and a finite expiresAt");
    }
    const life = Math.min(Math.ceil(stored.expiresAt - Date.now()), Number.MAX_SAFE_INTEGER);
    if (life <= 0) return this.delete(key);
    await retryIfLocked(() => this.#kv.set([...this.#prefix, key], encode(stored), { expireIn: life }));
  }

  /**
   * Removes the token stored under `key`, if any.
   *
   * @param key The cache key.
   * @returns Once removed.
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   */
  async delete(key: string): Promise<void> {
    await retryIfLocked(() => this.#kv.delete([...this.#prefix, key]));
  }

  /**
   * Takes the fleet-wide lock of `key`, so one instance fetches a token while
   * the others wait, then find it in the cache. The lock is a lease: a key
   * claimed with an atomic check that it is absent (or expired, when its
   * holder crashed), removed by the release only if it is still ours, and
   * expiring by itself after `leaseMs`. Waiters poll with backoff (20 ms up to
   * 250 ms); after `waitMs` they go on without the lock rather than hang.
   *
   * @param key The cache key.
   * @returns A function that releases the lock; after a wait that timed out,
   * one that releases nothing.
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   */
  async lock(key: string): Promise<() => Promise<void>> {
    const lease = [...this.#prefix, "lock", key];
    const deadline = Date.now() + this.#waitMs;
    for (let attempt = 0;; attempt++) {
      const entry = await retryIfLocked(() => this.#kv.get(lease));
      const expiresAt = (decode(entry.value) as { expiresAt?: unknown } | null | undefined)?.expiresAt;
      // Absent, or left by a crashed holder (KV removes expired keys lazily):
      // claim it, unless another instance claims it first.
      if (entry.versionstamp === null || !isTime(expiresAt) || expiresAt <= Date.now()) {
        const claimed = await retryIfLocked(() =>
          this.#kv.atomic()
            .check({ key: lease, versionstamp: entry.versionstamp })
            .set(lease, encode({ expiresAt: Date.now() + this.#leaseMs }), { expireIn: this.#leaseMs })
            .commit()
        );
        if (claimed.ok) return this.#hold(lease, claimed.versionstamp);
      }
      const left = deadline - Date.now();
      if (left <= 0) return () => Promise.resolve();
      await sleep(Math.min(left, pause(attempt)));
    }
  }

  /**
   * Keeps a claimed lease alive while its holder works (a token request with
   * retries and Retry-After can outlast one lease), renewing it every third of
   * `leaseMs`; returns its release. Only a holder that crashed lets it lapse.
   */
  #hold(lease: string[], claimed: string): () => Promise<void> {
    let versionstamp: string | undefined = claimed;
    let renewing: Promise<void> = Promise.resolve();
    const renew = async () => {
      if (versionstamp === undefined) return;
      const renewed = await this.#kv.atomic()
        .check({ key: lease, versionstamp })
        .set(lease, encode({ expiresAt: Date.now() + this.#leaseMs }), { expireIn: this.#leaseMs })
        .commit()
        .catch(() => ({ ok: true as const, versionstamp })); // a locked store: keep the old one, try again
      versionstamp = renewed.ok ? renewed.versionstamp : undefined; // lost it: stop renewing
    };
    const timer = setInterval(() => renewing = renewing.then(renew), Math.max(1, Math.floor(this.#leaseMs / 3)));
    return async () => {
      clearInterval(timer);
      await renewing;
      const held = versionstamp;
      versionstamp = undefined;
      // Once our lease lapsed, another instance may hold it: leave theirs alone.
      if (held !== undefined) {
        await retryIfLocked(() => this.#kv.atomic().check({ key: lease, versionstamp: held }).delete(lease).commit());
      }
    };
  }
}

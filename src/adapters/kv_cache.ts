/**
 * A token cache in Deno KV, shared by every instance of a fleet: Deno Deploy's
 * globally replicated KV, a self-hosted `denokv`, or one sqlite file shared by
 * the processes of a machine, from Deno (`Deno.openKv()`), Node and Bun
 * (`openKv()` of the npm package `@deno/kv`) alike.
 *
 * @module
 */

import { liveToken, storable } from "../_cached_token.ts";
import { positiveMs } from "./_options.ts";
import type { CachedToken, TokenCache } from "../token_cache.ts";
import type { KvLike } from "./_kv_like.ts";
import { acquireLease } from "./_kv_lease.ts";
import { decode, encode, kvCall } from "./_kv_ops.ts";

export type { CachedToken, TokenCache } from "../token_cache.ts";
export type { KvAtomicLike, KvLike } from "./_kv_like.ts";

/** Options of the {@linkcode KvCache} constructor. */
export interface KvCacheOptions {
  /**
   * The first parts of every key written, e.g. `["my-app", "propq"]`.
   * Default `["propq-auth"]`.
   */
  prefix?: readonly string[];
  /**
   * How long a lock this instance holds lasts unless renewed, in ms: the most
   * it holds up the others if it crashes. It renews the lock every third of
   * this time, however long its token request takes, and writes this value
   * into the lock; a waiter takes the lock over once it has seen it unchanged
   * for that long by its own monotonic clock, so a host whose wall clock is
   * wrong neither steals a live lock nor keeps a dead one. Default 20000.
   */
  leaseMs?: number;
  /**
   * The longest {@linkcode KvCache.lock} waits for a lock another instance
   * holds and keeps renewing, in ms, before going on without it (and maybe
   * fetching a token of its own). Set it above your clients' worst case,
   * `(maxRetries + 1) · timeoutMs + maxRetries · 30 s`. Default 120000: that
   * worst case with default client options (about 90 s, a 429 with
   * `Retry-After: 30` included) plus the cache write, with margin.
   */
  waitMs?: number;
}

/**
 * Keeps tokens in Deno KV, so every instance of a fleet (Deno Deploy
 * isolates, many workers, Deno and Node processes on one sqlite file) reuses
 * one token, and instances starting cold make a single token request between
 * them: {@linkcode KvCache.lock} is a short lease claimed with an atomic check.
 *
 * Entries live under `[...prefix, key]` as JSON bytes (so Deno, Node and Bun
 * read each other's), expire with the token (`expireIn`, and the expiry kept
 * in the value, since KV removes expired keys lazily), and never hold the
 * client secret. Leases live under `[...prefix, "lock", key]`. Waiters keep
 * waiting while the lease holder is alive, so a 429 with `Retry-After: 30`
 * still costs the fleet one token request.
 *
 * On Bun, `@deno/kv`'s `openKv` needs an `encodeV8`/`decodeV8` pair (Bun's
 * own `node:v8` writes another format). KvCache stores only bytes, so any pair
 * works; `@deno/kv` ships one: `openKv(path, makeLimitedV8Serializer())`.
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
   * from `@deno/kv` on Node, `await openKv(path, makeLimitedV8Serializer())`
   * from `@deno/kv` on Bun.
   * @param options The key prefix and the lock's timing.
   * @throws {TypeError} when `kv` is not a KV handle or `prefix` is not an array of strings.
   * @throws {RangeError} when `leaseMs` or `waitMs` is not a positive number of
   * ms a timer can wait (up to 2^31 - 1).
   *
   * @example A handle from `@deno/kv`, opened as Bun needs it (Node and Deno accept it too)
   * ```ts
   * import { makeLimitedV8Serializer, openKv } from "@deno/kv";
   * import { KvCache } from "@propq/auth/kv";
   * import assert from "node:assert/strict";
   * import { mkdtemp, rm } from "node:fs/promises";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   *
   * const dir = await mkdtemp(join(tmpdir(), "propq-kv-"));
   * const kv = await openKv(join(dir, "kv.sqlite"), makeLimitedV8Serializer());
   * const cache = new KvCache(kv);
   * await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + 60_000 });
   * assert.equal((await cache.get("k"))?.accessToken, "abc");
   * kv.close();
   * await rm(dir, { recursive: true });
   * ```
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
    this.#waitMs = positiveMs("KvCache", "waitMs", options.waitMs, 120_000);
  }

  /**
   * Returns the token stored under `key` while it has life left.
   *
   * @param key The cache key.
   * @returns The token, or `undefined` when absent, expired or unreadable
   * (not JSON bytes, or not a token).
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   * @throws {TypeError} when the handle's V8 serializer fails, naming what to pass.
   */
  async get(key: string): Promise<CachedToken | undefined> {
    const entry = await kvCall(() => this.#kv.get([...this.#prefix, key]));
    return liveToken(decode(entry.value));
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
    const { stored, lifeMs: life } = storable(token);
    if (life <= 0) return this.delete(key);
    await kvCall(() => this.#kv.set([...this.#prefix, key], encode(stored), { expireIn: life }));
  }

  /**
   * Removes the token stored under `key`, if any.
   *
   * @param key The cache key.
   * @returns Once removed.
   * @throws {Error} whatever the KV handle throws, once a locked store stayed locked.
   */
  async delete(key: string): Promise<void> {
    await kvCall(() => this.#kv.delete([...this.#prefix, key]));
  }

  /**
   * Takes the fleet-wide lock of `key`, so one instance fetches a token while
   * the others wait, then find it in the cache. The lock is a lease: a key
   * claimed with an atomic check that it is absent, renewed by its holder
   * every third of `leaseMs` (each renewal gives it a new versionstamp), and
   * removed by the release only if it is still ours. Waiters poll with backoff
   * (20 ms up to 250 ms) and keep waiting while the lease keeps changing; one
   * they have seen unchanged for its holder's `leaseMs`, by their own clock,
   * belonged to a holder that crashed, and is taken over. No wall clock
   * decides it. After `waitMs` they go on without the lock rather than hang.
   *
   * @param key The cache key.
   * @returns A function that releases the lock; after a wait that timed out,
   * one that releases nothing.
   * @throws {Error} whatever the KV handle throws, once a locked store stayed
   * locked (renewals never throw: a fault there is retried at the next one).
   * @throws {TypeError} when the handle's V8 serializer fails (`@deno/kv` on
   * Bun opened without `encodeV8`/`decodeV8`), naming what to pass.
   */
  lock(key: string): Promise<() => Promise<void>> {
    return acquireLease(this.#kv, [...this.#prefix, "lock", key], { leaseMs: this.#leaseMs, waitMs: this.#waitMs });
  }
}

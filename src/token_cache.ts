/**
 * The token cache contract and the in-memory adapter.
 *
 * @module
 */

/** A token as the caches store it. Never holds the client secret. */
export interface CachedToken {
  /** The Bearer token itself. */
  accessToken: string;
  /** When the token stops working, in epoch milliseconds. */
  expiresAt: number;
  /**
   * When the token was obtained, in epoch milliseconds. Optional: it lets the
   * refresh window be capped at half the token's lifetime.
   */
  issuedAt?: number;
}

/**
 * Where tokens are kept between calls: memory, a file, a KV store, or your own.
 *
 * Keys are opaque strings derived from the token URL, the client id and a
 * SHA-256 fingerprint of the secret. An adapter may throw or return garbage:
 * the client treats both as a miss.
 */
export interface TokenCache {
  /** Returns the token stored under `key`, or `undefined`. */
  get(key: string): Promise<CachedToken | undefined>;
  /** Stores `token` under `key`, replacing what was there. */
  set(key: string, token: CachedToken): Promise<void>;
  /** Removes the token stored under `key`, if any. */
  delete(key: string): Promise<void>;
  /**
   * Optional cross-process lock. When present, the client holds it while it
   * fetches a token, and re-reads the cache once it has it, so processes
   * sharing the store make one token request between them. Resolves to the
   * function that releases the lock. Should give up after a bounded wait (and
   * then resolve anyway) rather than block forever.
   */
  lock?(key: string): Promise<() => Promise<void>>;
}

/**
 * Keeps tokens in this process's memory: the default cache, one per process,
 * shared by every client built without a `cache` option.
 *
 * @example Storing and reading a token
 * ```ts
 * import { MemoryCache } from "@propq/auth";
 * import assert from "node:assert/strict";
 *
 * const cache = new MemoryCache();
 * await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + 60_000 });
 * assert.equal((await cache.get("k"))?.accessToken, "abc");
 * await cache.delete("k");
 * assert.equal(await cache.get("k"), undefined);
 * ```
 */
export class MemoryCache implements TokenCache {
  #entries = new Map<string, CachedToken>();

  /**
   * Returns the token under `key`, dropping it once expired.
   *
   * @param key The cache key.
   * @returns The token, or `undefined` when absent or expired.
   */
  get(key: string): Promise<CachedToken | undefined> {
    const token = this.#entries.get(key);
    if (token !== undefined && token.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(token);
  }

  /**
   * Stores a copy of `token` under `key`, and drops every expired entry, so
   * keys nobody reads again (tenants gone, secrets rotated) do not pile up.
   *
   * @param key The cache key.
   * @param token The token to keep.
   */
  set(key: string, token: CachedToken): Promise<void> {
    const now = Date.now();
    for (const [other, stored] of this.#entries) if (stored.expiresAt <= now) this.#entries.delete(other);
    this.#entries.set(key, { ...token });
    return Promise.resolve();
  }

  /** How many tokens are held, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Forgets the token under `key`.
   *
   * @param key The cache key.
   */
  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }
}

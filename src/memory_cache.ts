/**
 * The in-memory adapter: the default cache.
 *
 * @module
 */

import { cachedTokenFrom } from "./_cached_token.ts";
import type { CachedToken, TokenCache } from "./token_cache.ts";

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
   * @param token The token to keep; only `accessToken`, `expiresAt` and `issuedAt` are kept.
   * @throws {TypeError} when `token` has no usable `accessToken` or no finite `expiresAt` (a rejection).
   */
  set(key: string, token: CachedToken): Promise<void> {
    const now = Date.now();
    for (const [other, stored] of this.#entries) if (stored.expiresAt <= now) this.#entries.delete(other);
    const kept = cachedTokenFrom(token);
    if (kept === undefined) {
      return Promise.reject(
        new TypeError("Cannot cache token: it needs a non-empty accessToken and a finite expiresAt"),
      );
    }
    this.#entries.set(key, kept);
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

/**
 * A {@linkcode TokenCache} as the client uses it: every operation has a time
 * limit, and a failure (a throw, a rejection, a hang, garbage) costs a miss,
 * reported as a `cache_error` event, never an error for the caller.
 *
 * @module
 */

import { withinTime } from "./_async.ts";
import { cachedTokenFrom } from "./_cached_token.ts";
import type { Config } from "./_config.ts";
import { MAX_LIFETIME_MS } from "./_token_response.ts";
import type { CacheErrorEvent } from "./events.ts";
import type { CachedToken, TokenCache } from "./token_cache.ts";

/** Releases a cache lock. */
export type Release = () => Promise<void>;

/**
 * The cache, how long its operations may take (`cacheTimeoutMs`; for `lock`,
 * which may wait while another process fetches, `lockTimeoutMs`), where
 * failures are reported, and the clock of the lifetime cap.
 */
export type GuardOptions = Pick<Config, "cache" | "clientId" | "cacheTimeoutMs" | "lockTimeoutMs" | "emit" | "now">;

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** The cache of one client, guarded. */
export class GuardedCache {
  readonly #cache: TokenCache;
  readonly #options: GuardOptions;

  constructor(options: GuardOptions) {
    this.#cache = options.cache;
    this.#options = options;
  }

  /**
   * The token under `key`, or `undefined` on a miss, garbage or failure. A
   * token claiming more than 400 days of life is read as having 400.
   */
  async get(key: string): Promise<CachedToken | undefined> {
    let token: CachedToken | undefined;
    try {
      token = cachedTokenFrom(await withinTime(() => this.#cache.get(key), this.#options.cacheTimeoutMs));
    } catch (error) {
      this.#report("get", error);
      return undefined;
    }
    const longest = this.#options.now() + MAX_LIFETIME_MS;
    return token !== undefined && token.expiresAt > longest ? { ...token, expiresAt: longest } : token;
  }

  /** Stores `token`; never rejects. */
  async set(key: string, token: CachedToken): Promise<void> {
    try {
      await withinTime(() => this.#cache.set(key, token), this.#options.cacheTimeoutMs);
    } catch (error) {
      this.#report("set", error);
    }
  }

  /** Removes `key`; never rejects. */
  async delete(key: string): Promise<void> {
    try {
      await withinTime(() => this.#cache.delete(key), this.#options.cacheTimeoutMs);
    } catch (error) {
      this.#report("delete", error);
    }
  }

  /**
   * The cache's lock of `key`, or `undefined` when it has none or fails. A
   * lock granted after the time limit is released at once, so a late grant
   * never blocks other processes.
   */
  async lock(key: string): Promise<Release | undefined> {
    const cache = this.#cache;
    if (typeof cache.lock !== "function") return undefined;
    const releaseQuietly = (release: unknown) => async () => {
      try {
        if (typeof release === "function") await release();
      } catch (error) {
        this.#report("lock", error);
      }
    };
    try {
      const release = await withinTime(() => cache.lock!(key), this.#options.lockTimeoutMs, (late) => {
        void releaseQuietly(late)();
      });
      return releaseQuietly(release);
    } catch (error) {
      this.#report("lock", error);
      return undefined;
    }
  }

  #report(operation: CacheErrorEvent["operation"], error: unknown): void {
    this.#options.emit?.({
      type: "cache_error",
      clientId: this.#options.clientId,
      operation,
      message: describe(error),
    });
  }
}

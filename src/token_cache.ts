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

/**
 * When a held token is refreshed and when it may no longer be served.
 *
 * @module
 */

import type { TokenInfo } from "./options.ts";
import type { CachedToken } from "./token_cache.ts";

/** The two moments of a token's life that decide what callers get. */
export interface TokenTiming {
  /** From here a refresh runs in the background; callers still get the token. */
  refreshAt: number;
  /** From here the token is not served: callers wait for a new one. */
  usableUntil: number;
}

/**
 * The refresh window is `refreshWindowMs`, capped at half the token's
 * lifetime; the minimum validity is `minValidityMs`, capped at half the
 * window. So a short-lived token is neither refreshed on every call nor
 * refused while it still works. Without `issuedAt` the lifetime is unknown
 * and nothing is capped.
 */
export function timingOf(token: CachedToken, refreshWindowMs: number, minValidityMs: number): TokenTiming {
  const { expiresAt, issuedAt } = token;
  const lifetime = typeof issuedAt === "number" && issuedAt < expiresAt ? expiresAt - issuedAt : Infinity;
  const window = Math.min(refreshWindowMs, lifetime / 2);
  return { refreshAt: expiresAt - window, usableUntil: expiresAt - Math.min(minValidityMs, window / 2) };
}

/** A token a client holds: its timing, and a settled promise of it for the hot path. */
export interface Held extends TokenTiming {
  token: CachedToken;
  answer: Promise<string>;
}

/** What `getTokenInfo()` tells of a held token. */
export function infoOf(held: Held): TokenInfo {
  return { accessToken: held.token.accessToken, expiresAt: held.token.expiresAt, refreshAt: held.refreshAt };
}

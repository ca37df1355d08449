import type { CachedToken } from "./token_cache.ts";

/**
 * A token travels as a header value: visible ASCII only, so a hostile answer
 * or a tampered cache cannot smuggle a line break (or break every request).
 */
export const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** A finite number, e.g. an epoch-ms time. */
function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * The token fields of `value` (a cache's answer, parsed JSON), or `undefined`
 * when it is not a usable token: caches hold whatever was written to them.
 */
export function cachedTokenFrom(value: unknown): CachedToken | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { accessToken, expiresAt, issuedAt } = value as Record<string, unknown>;
  if (typeof accessToken !== "string" || !HEADER_SAFE.test(accessToken) || !isTime(expiresAt)) return undefined;
  return isTime(issuedAt) ? { accessToken, expiresAt, issuedAt } : { accessToken, expiresAt };
}

/** The token fields of `value` while it has life left by this machine's clock, else `undefined`. */
export function liveToken(value: unknown): CachedToken | undefined {
  const token = cachedTokenFrom(value);
  return token !== undefined && token.expiresAt > Date.now() ? token : undefined;
}

/**
 * What a cache stores of `token` (its three fields, nothing else) and the ms
 * of life it has left, for a store's own expiry; a TypeError for anything
 * that is not a usable token.
 */
export function storable(token: CachedToken): { stored: CachedToken; lifeMs: number } {
  const stored = cachedTokenFrom(token);
  if (stored === undefined) {
    throw new TypeError("Cannot cache token: it needs a non-empty accessToken and a finite expiresAt");
  }
  return { stored, lifeMs: Math.min(Math.ceil(stored.expiresAt - Date.now()), Number.MAX_SAFE_INTEGER) };
}

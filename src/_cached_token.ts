import type { CachedToken } from "./token_cache.ts";

/** A finite number, e.g. an epoch-ms time. */
export function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * The token fields of `value` (a cache's answer, parsed JSON), or `undefined`
 * when it is not a usable token: caches hold whatever was written to them.
 */
export function cachedTokenFrom(value: unknown): CachedToken | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { accessToken, expiresAt, issuedAt } = value as Record<string, unknown>;
  if (typeof accessToken !== "string" || accessToken === "" || !isTime(expiresAt)) return undefined;
  return isTime(issuedAt) ? { accessToken, expiresAt, issuedAt } : { accessToken, expiresAt };
}

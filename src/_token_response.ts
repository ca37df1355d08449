import { HEADER_SAFE } from "./_cached_token.ts";
import { PropQAuthError } from "./errors.ts";
import type { CachedToken } from "./token_cache.ts";

const ONE_HOUR_MS = 3_600_000;
/** The longest lifetime believed: an answer or a JWT claiming more is capped to it. */
export const MAX_LIFETIME_MS = 400 * 86_400_000;

function invalid(reason: string, response?: Response): PropQAuthError {
  return new PropQAuthError(`Cannot obtain token: ${reason}`, {
    code: "invalid_response",
    status: response?.status,
    response,
  });
}

/**
 * The expiry an `expires_in` field gives (a positive finite number, or a
 * numeric string such as "7200"), or `undefined` when it gives none that can
 * be stored: not a number, not positive, or so large the expiry is not finite.
 */
function expiryFrom(value: unknown, now: number): number | undefined {
  const seconds = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof seconds !== "number" || !(seconds > 0)) return undefined;
  const expiresAt = now + seconds * 1000;
  return Number.isFinite(expiresAt) && expiresAt > now ? expiresAt : undefined;
}

/** The `exp` claim of a JWT in epoch ms, if the token is a JWT that has one. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown } | null)?.exp;
    return typeof exp === "number" && Number.isFinite(exp * 1000) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function futureJwtExpiry(token: string, now: number): number | undefined {
  const exp = jwtExpiry(token);
  return exp !== undefined && exp > now ? exp : undefined;
}

/**
 * Parses a 2xx token answer into a {@linkcode CachedToken}. Any body that is
 * not a usable Bearer token becomes an `invalid_response` error, never a crash.
 */
export function parseTokenResponse(text: string, now: number, response?: Response): CachedToken {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // No `cause`: a SyntaxError quotes the body, which is not ours to spread.
    throw invalid("the token endpoint answered with a body that is not JSON", response);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid("the token endpoint's answer is not a JSON object", response);
  }
  const { access_token: accessToken, token_type: tokenType, expires_in: expiresIn } = body as Record<
    string,
    unknown
  >;
  if (typeof accessToken !== "string" || accessToken === "") {
    throw invalid("the answer has no access_token", response);
  }
  if (!HEADER_SAFE.test(accessToken)) {
    throw invalid("the access_token holds characters a header cannot carry", response);
  }
  if (typeof tokenType !== "string" || tokenType.toLowerCase() !== "bearer") {
    throw invalid("the token_type is not Bearer", response);
  }
  const expiresAt = expiryFrom(expiresIn, now) ?? futureJwtExpiry(accessToken, now) ?? now + ONE_HOUR_MS;
  return { accessToken, expiresAt: Math.min(expiresAt, now + MAX_LIFETIME_MS), issuedAt: now };
}

import { PropQAuthError } from "./errors.ts";
import type { CachedToken } from "./token_cache.ts";

const ONE_HOUR_MS = 3_600_000;
// A token is sent as a header value: visible ASCII only, so a hostile or
// broken answer cannot smuggle a line break into a request.
const HEADER_SAFE = /^[\x21-\x7e]+$/;
const NUMERIC = /^\d+(?:\.\d+)?$/;

function invalid(reason: string, response?: Response): PropQAuthError {
  return new PropQAuthError(`Cannot obtain token: ${reason}`, {
    code: "invalid_response",
    status: response?.status,
    response,
  });
}

/** Seconds from an `expires_in` field: a positive finite number or numeric string. */
function expiresInSeconds(value: unknown): number | undefined {
  const seconds = typeof value === "string" && NUMERIC.test(value) ? Number(value) : value;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** The `exp` claim of a JWT in epoch ms, if the token is a JWT that has one. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown } | null)?.exp;
    return typeof exp === "number" && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
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
  const seconds = expiresInSeconds(expiresIn);
  const exp = seconds === undefined ? jwtExpiry(accessToken) : undefined;
  const expiresAt = seconds !== undefined
    ? now + seconds * 1000
    : exp !== undefined && exp > now
    ? exp
    : now + ONE_HOUR_MS;
  return { accessToken, expiresAt, issuedAt: now };
}

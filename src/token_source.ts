/**
 * The token source: one OAuth2 client-credentials request to PropQ
 * (RFC 6749 §4.4), with a time limit and retries of transient failures.
 *
 * @module
 */

import type { Config } from "./_config.ts";
import { failureEvent } from "./_emit.ts";
import { BodyTooLarge, readText } from "./_read_body.ts";
import { quotable } from "./_redact.ts";
import { backoff, MAX_BACKOFF_MS, retry, retryAfterDelay } from "./_retry.ts";
import { parseTokenResponse } from "./_token_response.ts";
import { PropQAuthError } from "./errors.ts";
import type { CachedToken } from "./token_cache.ts";

/** What the source needs of a client's configuration. */
export type SourceConfig = Pick<
  Config,
  | "clientId"
  | "clientIdSource"
  | "clientSecret"
  | "clientSecretSource"
  | "tokenUrl"
  | "timeoutMs"
  | "maxRetries"
  | "retryDelayMs"
  | "fetch"
  | "now"
  | "emit"
>;

/** The most of a token answer that is read: PropQ's are under 2 KiB. */
const MAX_TOKEN_BODY = 64 * 1024;

// A server's `error` must not pass for one of the library's own verdicts.
const OWN_CODES = new Set(["config", "timeout", "network_error", "http_error", "invalid_response", "foreign_origin"]);
const TIMED_OUT = Symbol("timed out");
// RFC 6749 §5.2's codes are quoted as they are, whatever the secret: a short
// secret may be a substring of one, and a code cannot carry a secret.
const OAUTH_CODES = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
]);

/** A failure worth another attempt, with what the server said about when. */
class Transient {
  constructor(readonly error: PropQAuthError, readonly retryAfter: string | null = null) {}
}

function fail(reason: string, options: ConstructorParameters<typeof PropQAuthError>[1]): PropQAuthError {
  return new PropQAuthError(`Cannot obtain token: ${reason}`, options);
}

function refused(config: SourceConfig, response: Response, text: string): PropQAuthError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page, say): an http_error with the status alone.
  }
  const secret = config.clientSecret;
  const oauthError = OAUTH_CODES.has(body.error as string) ? body.error as string : quotable(body.error, secret);
  const description = quotable(body.message, secret) ?? quotable(body.error_description, secret);
  const hint = quotable(body.hint, secret);
  const { status } = response;
  const fix = status === 401 && oauthError === "invalid_client"
    ? `. ${config.tokenUrl} refused client id ${config.clientId} (from ${config.clientIdSource}): ` +
      `check the secret in ${config.clientSecretSource}`
    : "";
  const reason = `server responded ${status}` + (oauthError ? ` ${oauthError}` : "") +
    (description ? `: ${description}` : "") + (hint ? ` (${hint})` : "") + fix;
  const code = oauthError === undefined || OWN_CODES.has(oauthError) ? "http_error" : oauthError;
  return fail(reason, { code, status, oauthError, hint, description, response });
}

/** The innermost cause of a network failure: where `ECONNREFUSED` or the DNS error is. */
function innermost(error: unknown): unknown {
  let inner = error;
  for (let depth = 0; depth < 8 && (inner as { cause?: unknown } | null)?.cause !== undefined; depth++) {
    inner = (inner as { cause: unknown }).cause;
  }
  return inner;
}

function unreachable(config: SourceConfig, error: unknown): PropQAuthError | Transient {
  const inner = innermost(error) as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof inner?.name === "string" ? inner.name : "Error";
  if (name === "NotCapable" || name === "PermissionDenied") {
    const host = new URL(config.tokenUrl).host;
    return fail(`Deno may not reach ${host}: run with --allow-net=${host}`, { code: "config" });
  }
  const code = typeof inner?.code === "string" ? inner.code : undefined;
  const text = quotable(inner?.message, config.clientSecret) ?? "network error";
  // The cause is rebuilt from what was checked: the original may quote the request, secret included.
  const cause = Object.assign(new Error(text), { name }, code === undefined ? {} : { code });
  const what = code !== undefined && !text.includes(code) ? `${code}: ${text}` : text;
  return new Transient(fail(`cannot reach ${config.tokenUrl} (${what})`, { code: "network_error", cause }));
}

async function exchange(config: SourceConfig, signal: AbortSignal): Promise<{ response: Response; text: string }> {
  // Called bare, not as config.fetch(): workerd's fetch refuses any other `this`.
  const { fetch } = config;
  const response = await fetch(config.tokenUrl, {
    method: "POST",
    headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: config.clientId,
      client_secret: config.clientSecret,
    }).toString(),
    // A redirect would resend the secret wherever Location points.
    redirect: "manual",
    signal,
  });
  return { response, text: await readText(response, MAX_TOKEN_BODY) };
}

async function attempt(config: SourceConfig): Promise<CachedToken> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The race ends the attempt even when a custom fetch ignores the signal.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => (controller.abort(), reject(TIMED_OUT)), config.timeoutMs);
  });
  let answer: { response: Response; text: string };
  try {
    const exchanged = exchange(config, controller.signal);
    exchanged.catch(() => {}); // settles after the race is lost: nobody is left to hear it
    answer = await Promise.race([exchanged, timeout]);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      throw fail(`the token endpoint's answer is larger than ${error.limit} bytes`, {
        code: "invalid_response",
      });
    }
    if (error === TIMED_OUT || controller.signal.aborted) {
      throw new Transient(
        fail(`no answer from ${config.tokenUrl} within ${config.timeoutMs} ms`, { code: "timeout" }),
      );
    }
    throw unreachable(config, error);
  } finally {
    clearTimeout(timer);
  }
  const { response, text } = answer;
  if (response.ok) return parseTokenResponse(text, config.now(), response);
  const error = refused(config, response, text);
  if (response.status === 429 || response.status >= 500) {
    throw new Transient(error, response.headers.get("retry-after"));
  }
  throw error;
}

/**
 * Requests a new token from the token endpoint: a form-encoded
 * `grant_type=client_credentials` POST with `Accept: application/json` and no
 * Authorization header. 429, 5xx, network errors and timeouts are retried up
 * to `maxRetries` times with backoff, honouring `Retry-After` up to 30 s; every
 * other refusal is thrown at once.
 */
export async function requestToken(config: SourceConfig): Promise<CachedToken> {
  try {
    return await retry(
      () => attempt(config),
      (failure) => failure instanceof Transient,
      (retries, failure) => {
        if (retries >= config.maxRetries) return undefined;
        const { error, retryAfter } = failure as Transient;
        const delayMs = retryAfterDelay(retryAfter, config.now()) ??
          backoff(retries, config.retryDelayMs, MAX_BACKOFF_MS);
        config.emit?.(failureEvent("retry", config.clientId, error, { attempt: retries + 1, delayMs }));
        return delayMs;
      },
    );
  } catch (failure) {
    throw failure instanceof Transient ? failure.error : failure;
  }
}

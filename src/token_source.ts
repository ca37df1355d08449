/**
 * The token source: one OAuth2 client-credentials request to PropQ
 * (RFC 6749 §4.4), with a time limit and retries of transient failures.
 *
 * @module
 */

import type { Config } from "./_config.ts";
import { backoff, MAX_BACKOFF_MS, retry, retryAfterDelay } from "./_retry.ts";
import { parseTokenResponse } from "./_token_response.ts";
import { PropQAuthError } from "./errors.ts";
import type { CachedToken } from "./token_cache.ts";

/** What the source needs of a client's configuration. */
export type SourceConfig = Pick<
  Config,
  "clientId" | "clientSecret" | "tokenUrl" | "timeoutMs" | "maxRetries" | "retryDelayMs" | "fetch" | "now"
>;

/** A failure worth another attempt, with what the server said about when. */
class Transient {
  constructor(readonly error: PropQAuthError, readonly retryAfter: string | null = null) {}
}

const MAX_TEXT = 200;

/**
 * Keeps server-supplied text short and free of the secret, for error messages:
 * a server may echo the form body, where the secret is percent-encoded.
 */
function clean(text: unknown, secret: string): string | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  const forms = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  let clean = text;
  for (const form of forms) clean = clean.replaceAll(form, "[redacted]");
  return clean.slice(0, MAX_TEXT);
}

function refused(response: Response, text: string, secret: string): PropQAuthError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's HTML page, say): an http_error with the status alone.
  }
  const code = clean(body.error, secret);
  const description = clean(body.message, secret) ?? clean(body.error_description, secret);
  const hint = clean(body.hint, secret);
  const message = `Cannot obtain token: server responded ${response.status}` +
    (code ? ` ${code}` : "") + (description ? `: ${description}` : "") + (hint ? ` (${hint})` : "");
  return new PropQAuthError(message, {
    code: code ?? "http_error",
    status: response.status,
    hint,
    description,
    response,
  });
}

async function attempt(config: SourceConfig): Promise<CachedToken> {
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: config.clientId,
    client_secret: config.clientSecret,
  }).toString();
  // Called bare, not as config.fetch(): workerd's fetch refuses any other `this`.
  const { fetch } = config;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await fetch(config.tokenUrl, {
      method: "POST",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body,
      // A redirect would resend the secret wherever Location points.
      redirect: "manual",
      signal: controller.signal,
    });
    text = await response.text();
  } catch (cause) {
    const timedOut = controller.signal.aborted;
    throw new Transient(
      new PropQAuthError(
        timedOut
          ? `Cannot obtain token: no answer from the token endpoint within ${config.timeoutMs} ms`
          : `Cannot obtain token: the token endpoint could not be reached (${
            clean((cause as Error)?.message, config.clientSecret) ?? "network error"
          })`,
        { code: timedOut ? "timeout" : "network_error", cause: timedOut ? undefined : cause },
      ),
    );
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) return parseTokenResponse(text, config.now(), response);
  const error = refused(response, text, config.clientSecret);
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
        return retryAfterDelay((failure as Transient).retryAfter, config.now()) ??
          backoff(retries, config.retryDelayMs, MAX_BACKOFF_MS);
      },
    );
  } catch (failure) {
    throw failure instanceof Transient ? failure.error : failure;
  }
}

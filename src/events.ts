/**
 * What a client tells an `onEvent` callback: plain objects, built only when a
 * callback is set, never holding the secret or a token.
 *
 * @module
 */

/** A new token from the token endpoint. */
export interface TokenEvent {
  /** What happened. */
  type: "token";
  /** The client id (never the secret). */
  clientId: string;
  /** When the new token expires, in epoch ms. */
  expiresAt: number;
  /** How long the token request took, retries included, in ms. */
  durationMs: number;
  /** `true` when it replaced a held token in the background (refresh ahead). */
  background: boolean;
}

/** A token request failed transiently and is tried again. */
export interface RetryEvent {
  /** What happened. */
  type: "retry";
  /** The client id (never the secret). */
  clientId: string;
  /** The retry about to happen: 1 for the first retry. */
  attempt: number;
  /** The wait before it, in ms (the server's `Retry-After` when it sent one). */
  delayMs: number;
  /** The failure's code: `http_error`, `network_error` or `timeout`. */
  code: string;
  /** The HTTP status, when there was an answer. */
  status?: number;
}

/** A background refresh failed; the held token is still served. */
export interface RefreshFailedEvent {
  /** What happened. */
  type: "refresh_failed";
  /** The client id (never the secret). */
  clientId: string;
  /** The failure's code, as on {@linkcode PropQAuthError}. */
  code: string;
  /** The HTTP status, when there was an answer. */
  status?: number;
  /** When the held token, still served, expires, in epoch ms. */
  expiresAt: number;
  /** When the refresh is tried again at the earliest, in epoch ms. */
  retryAt: number;
}

/** A cache operation failed (threw, rejected or timed out) and counted as a miss. */
export interface CacheErrorEvent {
  /** What happened. */
  type: "cache_error";
  /** The client id (never the secret). */
  clientId: string;
  /** The operation: `get`, `set`, `delete` or `lock`. */
  operation: "get" | "set" | "delete" | "lock";
  /** What went wrong, e.g. "timed out after 5000 ms" or the adapter's message. */
  message: string;
}

/** The API answered 401; the rejected token was dropped and a new one obtained. */
export interface UnauthorizedEvent {
  /** What happened. */
  type: "unauthorized";
  /** The client id (never the secret). */
  clientId: string;
  /** `true` when the request was sent again with a new token. */
  retried: boolean;
}

/** Everything `onEvent` receives; switch on `type`. */
export type PropQAuthEvent = TokenEvent | RetryEvent | RefreshFailedEvent | CacheErrorEvent | UnauthorizedEvent;

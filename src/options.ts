/**
 * The options every entry point takes.
 *
 * @module
 */

import type { PropQAuthEvent } from "./events.ts";
import type { TokenCache } from "./token_cache.ts";

/** How to reach PropQ and how to keep tokens. Every field is optional. */
export interface ClientOptions {
  /** The PropQ client id, a positive integer. Default: env `PROPQ_CLIENT_ID`. */
  clientId?: number | string;
  /** The PropQ client secret. Default: env `PROPQ_CLIENT_SECRET`. */
  clientSecret?: string;
  /** The OAuth token endpoint. Default: env `PROPQ_TOKEN_URL`, else `"https://api.propq.com/oauth/token"`. */
  tokenUrl?: string | URL;
  /** The API's base URL; relative paths resolve against it. Default: env `PROPQ_BASE_URL`, else `"https://api.propq.com"`. */
  baseUrl?: string | URL;
  /** Where tokens are kept. Default: one {@linkcode MemoryCache} per process. */
  cache?: TokenCache;
  /**
   * Refresh a token in the background when less life than this remains
   * (capped at half its lifetime); callers keep getting the held token
   * meanwhile. Default 300.
   */
  refreshWindowSeconds?: number;
  /**
   * Never serve a token with less life left than this; below it, callers wait
   * for a new one (capped at half the refresh window). Default 30.
   */
  minValiditySeconds?: number;
  /**
   * After the token endpoint refused the credentials (400/401), calls for them
   * fail at once with the same error for this long, sending nothing;
   * `forceRefresh` asks anyway. Default 30.
   */
  failureCooldownSeconds?: number;
  /**
   * Receives what happens to tokens: new ones, retries, failed background
   * refreshes, cache errors, 401s. Never holds the secret or a token; a
   * handler that throws changes nothing.
   */
  onEvent?: (event: PropQAuthEvent) => void;
  /** Time limit of one token request, in ms. Default 10000. */
  timeoutMs?: number;
  /** How often a transient token failure (429, 5xx, network, timeout) is retried. Default 2. */
  maxRetries?: number;
  /** First retry delay in ms, doubled each retry, with jitter. Default 500. */
  retryDelayMs?: number;
  /** The transport. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * The clock behind every expiry, refresh, age and cooldown decision, in
   * epoch ms. Default `Date.now`; tests move it instead of sleeping.
   */
  now?: () => number;
  /** Time limit of one cache operation, in ms; a slower one counts as a miss. Default 5000. */
  cacheTimeoutMs?: number;
}

/** Per-call options of `getToken`. */
export interface GetTokenOptions {
  /** Ignore the cached token and ask the token endpoint for a new one. */
  forceRefresh?: boolean;
  /** Stops this caller's wait; a request other callers share goes on. */
  signal?: AbortSignal;
}

/** A token with its timing, from `client.getTokenInfo()`. */
export interface TokenInfo {
  /** The Bearer token. */
  accessToken: string;
  /** When it stops working, in epoch ms. */
  expiresAt: number;
  /** When a new one is fetched in the background, in epoch ms. */
  refreshAt: number;
}

/**
 * The options every entry point takes.
 *
 * @module
 */

import type { TokenCache } from "./token_cache.ts";

/** How to reach PropQ and how to keep tokens. Every field is optional. */
export interface ClientOptions {
  /** The PropQ client id, a positive integer. Default: env `PROPQ_CLIENT_ID`. */
  clientId?: number | string;
  /** The PropQ client secret. Default: env `PROPQ_CLIENT_SECRET`. */
  clientSecret?: string;
  /** The OAuth token endpoint. Default `"https://api.propq.com/oauth/token"`. */
  tokenUrl?: string | URL;
  /** The API's base URL; relative paths resolve against it. Default `"https://api.propq.com"`. */
  baseUrl?: string | URL;
  /** Where tokens are kept. Default: one {@linkcode MemoryCache} per process. */
  cache?: TokenCache;
  /** Refresh a token when less life than this remains (capped at half its lifetime). Default 300. */
  refreshWindowSeconds?: number;
  /** Time limit of one token request, in ms. Default 10000. */
  timeoutMs?: number;
  /** How often a transient token failure (429, 5xx, network, timeout) is retried. Default 2. */
  maxRetries?: number;
  /** First retry delay in ms, doubled each retry, with jitter. Default 500. */
  retryDelayMs?: number;
  /** The transport. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The clock, in epoch ms. Default `Date.now`; tests move it instead of sleeping. */
  now?: () => number;
}

/** Per-call options of `getToken`. */
export interface GetTokenOptions {
  /** Ignore the cached token and ask the token endpoint for a new one. */
  forceRefresh?: boolean;
  /** Stops this caller's wait; a request other callers share goes on. */
  signal?: AbortSignal;
}

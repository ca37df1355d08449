/**
 * Options after validation: every default filled in, every bad value refused
 * with a `config` error before anything is sent.
 *
 * @module
 */

import { MAX_TIMER_MS } from "./_async.ts";
import { type EnvValue, readEnv } from "./_env.ts";
import { defaultCache } from "./_registry.ts";
import { PropQAuthError } from "./errors.ts";
import type { ClientOptions } from "./options.ts";
import type { TokenCache } from "./token_cache.ts";

export const DEFAULT_TOKEN_URL = "https://api.propq.com/oauth/token";
export const DEFAULT_BASE_URL = "https://api.propq.com";
export const ID_ENV = "PROPQ_CLIENT_ID";
export const SECRET_ENV = "PROPQ_CLIENT_SECRET";
const DIGITS = /^\d+$/;

/** Options after validation, with every default filled in. */
export interface Config {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  baseUrl: URL;
  cache: TokenCache;
  refreshWindowMs: number;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  fetch: typeof fetch;
  now: () => number;
  /** `false` when the caller injected `now`: the coarse clock is only for the real one. */
  realClock: boolean;
}

function configError(message: string): PropQAuthError {
  return new PropQAuthError(message, { code: "config" });
}

function missing(what: string, option: string, env: EnvValue, variable: string): PropQAuthError {
  const denied = env.denied ? ` (Deno needs --allow-env=${ID_ENV},${SECRET_ENV} to read it)` : "";
  return configError(`Missing ${what}: pass ${option} or set ${variable}${denied}`);
}

function clientIdFrom(option: unknown): string {
  const env = option === undefined ? readEnv(ID_ENV) : { value: undefined, denied: false };
  const value = option ?? env.value;
  if (value === undefined || value === "") throw missing("client id", "clientId", env, ID_ENV);
  const id = typeof value === "number" ? value : typeof value === "string" && DIGITS.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    const source = option === undefined ? ID_ENV : "clientId";
    throw configError(`Invalid client id from ${source}: expected a positive integer such as 42`);
  }
  return String(id); // "042" and 42 are one client: one cache key
}

function clientSecretFrom(option: unknown): string {
  const env = option === undefined ? readEnv(SECRET_ENV) : { value: undefined, denied: false };
  const value = option ?? env.value;
  if (value === undefined || value === "") throw missing("client secret", "clientSecret", env, SECRET_ENV);
  const source = option === undefined ? SECRET_ENV : "clientSecret";
  if (typeof value !== "string") throw configError(`Invalid client secret from ${source}: expected a string`);
  if (value.trim() !== value) {
    throw configError(`Invalid client secret from ${source}: it has leading or trailing whitespace`);
  }
  return value;
}

function urlFrom(value: string | URL | undefined, fallback: string, name: string): URL {
  const text = value === undefined ? fallback : String(value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw configError(`Invalid ${name}: not an absolute URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw configError(`Invalid ${name}: expected an http(s) URL`);
  }
  return url;
}

function numberFrom(value: number | undefined, fallback: number, name: string, integer: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw configError(`Invalid ${name}: expected a non-negative ${integer ? "integer" : "number"}`);
  }
  return value;
}

/** Validates options and fills defaults. Throws a `config` error before any traffic. */
export function resolveConfig(options: ClientOptions = {}): Config {
  const clientId = clientIdFrom(options.clientId);
  const clientSecret = clientSecretFrom(options.clientSecret);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw configError("Invalid fetch: expected a function");
  const cache = options.cache ?? defaultCache;
  if (typeof cache?.get !== "function" || typeof cache.set !== "function" || typeof cache.delete !== "function") {
    throw configError("Invalid cache: expected an object with get, set and delete");
  }
  const timeoutMs = numberFrom(options.timeoutMs, 10_000, "timeoutMs", false);
  if (timeoutMs === 0 || timeoutMs > MAX_TIMER_MS) {
    throw configError(`Invalid timeoutMs: expected a positive number up to ${MAX_TIMER_MS}`);
  }
  return {
    clientId,
    clientSecret,
    tokenUrl: urlFrom(options.tokenUrl, DEFAULT_TOKEN_URL, "tokenUrl").href,
    baseUrl: urlFrom(options.baseUrl, DEFAULT_BASE_URL, "baseUrl"),
    cache,
    refreshWindowMs: numberFrom(options.refreshWindowSeconds, 300, "refreshWindowSeconds", false) * 1000,
    timeoutMs,
    maxRetries: numberFrom(options.maxRetries, 2, "maxRetries", true),
    retryDelayMs: numberFrom(options.retryDelayMs, 500, "retryDelayMs", false),
    fetch: fetchImpl,
    now: options.now ?? Date.now,
    realClock: options.now === undefined,
  };
}

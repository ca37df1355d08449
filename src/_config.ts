/**
 * Options after validation: every default filled in, every bad value refused
 * with a `config` error before anything is sent.
 *
 * @module
 */

import { MAX_TIMER_MS } from "./_async.ts";
import { type Emit, emitterFor } from "./_emit.ts";
import { readEnv } from "./_env.ts";
import { RETRY_AFTER_CAP_MS } from "./_retry.ts";
import { defaultCache } from "./_registry.ts";
import { PropQAuthError } from "./errors.ts";
import type { ClientOptions } from "./options.ts";
import type { TokenCache } from "./token_cache.ts";

const DEFAULT_TOKEN_URL = "https://api.propq.com/oauth/token";
const DEFAULT_BASE_URL = "https://api.propq.com";
export const ID_ENV = "PROPQ_CLIENT_ID";
export const SECRET_ENV = "PROPQ_CLIENT_SECRET";
const TOKEN_URL_ENV = "PROPQ_TOKEN_URL";
const BASE_URL_ENV = "PROPQ_BASE_URL";
const DIGITS = /^\d+$/;
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Options after validation, with every default filled in. */
export interface Config {
  clientId: string;
  /** Where the client id came from: `clientId` or `PROPQ_CLIENT_ID`. */
  clientIdSource: string;
  clientSecret: string;
  /** Where the secret came from: `clientSecret` or `PROPQ_CLIENT_SECRET`. */
  clientSecretSource: string;
  tokenUrl: string;
  baseUrl: URL;
  cache: TokenCache;
  refreshWindowMs: number;
  minValidityMs: number;
  failureCooldownMs: number;
  cacheTimeoutMs: number;
  /**
   * How long a cache lock may take: another process may hold it for a whole
   * token request (every attempt's time limit and every Retry-After wait)
   * plus its cache operations.
   */
  lockTimeoutMs: number;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  fetch: typeof fetch;
  now: () => number;
  /** `false` when the caller injected `now`: the coarse clock is only for the real one. */
  realClock: boolean;
  /** Present only when the caller set `onEvent`. */
  emit: Emit | undefined;
}

function configError(message: string): PropQAuthError {
  return new PropQAuthError(message, { code: "config" });
}

/** An option's value, else the environment variable's; with where it came from. */
function fromOptionOrEnv(option: unknown, name: string, variable: string): [unknown, string, boolean] {
  if (option !== undefined) return [option, name, false];
  const env = readEnv(variable);
  return [env.value, variable, env.denied];
}

function missing(what: string, option: string, variable: string, denied: boolean): PropQAuthError {
  const flag = denied ? ` (Deno needs --allow-env=${ID_ENV},${SECRET_ENV} to read it)` : "";
  return configError(`Missing ${what}: pass ${option} or set ${variable}${flag}`);
}

function clientIdFrom(option: unknown): [string, string] {
  const [value, source, denied] = fromOptionOrEnv(option, "clientId", ID_ENV);
  if (value === undefined || value === "") throw missing("client id", "clientId", ID_ENV, denied);
  const id = typeof value === "number" ? value : typeof value === "string" && DIGITS.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw configError(`Invalid client id from ${source}: expected a positive integer such as 42`);
  }
  return [String(id), source]; // "042" and 42 are one client: one cache key
}

function clientSecretFrom(option: unknown): [string, string] {
  const [value, source, denied] = fromOptionOrEnv(option, "clientSecret", SECRET_ENV);
  if (value === undefined || value === "") throw missing("client secret", "clientSecret", SECRET_ENV, denied);
  if (typeof value !== "string") throw configError(`Invalid client secret from ${source}: expected a string`);
  if (value.trim() !== value) {
    throw configError(`Invalid client secret from ${source}: it has leading or trailing whitespace`);
  }
  return [value, source];
}

function urlFrom(option: string | URL | undefined, variable: string, fallback: string, name: string): URL {
  const [value, source] = fromOptionOrEnv(option, name, variable);
  const text = value === undefined || value === "" ? fallback : String(value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw configError(`Invalid ${name} from ${source}: not an absolute URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw configError(`Invalid ${name} from ${source}: expected an https URL`);
  }
  if (url.username !== "" || url.password !== "") {
    throw configError(`Invalid ${name} from ${source}: it holds a user name or password; PropQ takes none`);
  }
  if (url.protocol === "http:" && !LOOPBACK.test(url.hostname)) {
    throw configError(
      `Invalid ${name} from ${source}: http sends credentials in clear; use https (http is for loopback)`,
    );
  }
  return url;
}

function numberFrom(value: number | undefined, fallback: number, name: string, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw configError(`Invalid ${name}: expected a non-negative ${integer ? "integer" : "number"}`);
  }
  return value;
}

function timerMsFrom(value: number | undefined, fallback: number, name: string): number {
  const ms = numberFrom(value, fallback, name);
  if (ms === 0 || ms > MAX_TIMER_MS) {
    throw configError(`Invalid ${name}: expected a positive number up to ${MAX_TIMER_MS}`);
  }
  return ms;
}

function functionFrom<T>(value: T | undefined, fallback: T, name: string): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function") throw configError(`Invalid ${name}: expected a function`);
  return value;
}

function missingFetch(): never {
  throw configError("Missing fetch: this runtime has no global fetch; pass one as the fetch option");
}

/** Validates options and fills defaults. Throws a `config` error before any traffic. */
export function resolveConfig(options: ClientOptions = {}): Config {
  const [clientId, clientIdSource] = clientIdFrom(options.clientId);
  const [clientSecret, clientSecretSource] = clientSecretFrom(options.clientSecret);
  const cache = options.cache ?? defaultCache;
  if (typeof cache?.get !== "function" || typeof cache.set !== "function" || typeof cache.delete !== "function") {
    throw configError("Invalid cache: expected an object with get, set and delete");
  }
  const timeoutMs = timerMsFrom(options.timeoutMs, 10_000, "timeoutMs");
  const maxRetries = numberFrom(options.maxRetries, 2, "maxRetries", true);
  const cacheTimeoutMs = timerMsFrom(options.cacheTimeoutMs, 5_000, "cacheTimeoutMs");
  const request = (maxRetries + 1) * timeoutMs + maxRetries * RETRY_AFTER_CAP_MS;
  return {
    clientId,
    clientIdSource,
    clientSecret,
    clientSecretSource,
    tokenUrl: urlFrom(options.tokenUrl, TOKEN_URL_ENV, DEFAULT_TOKEN_URL, "tokenUrl").href,
    baseUrl: urlFrom(options.baseUrl, BASE_URL_ENV, DEFAULT_BASE_URL, "baseUrl"),
    cache,
    refreshWindowMs: numberFrom(options.refreshWindowSeconds, 300, "refreshWindowSeconds") * 1000,
    minValidityMs: numberFrom(options.minValiditySeconds, 30, "minValiditySeconds") * 1000,
    failureCooldownMs: numberFrom(options.failureCooldownSeconds, 30, "failureCooldownSeconds") * 1000,
    cacheTimeoutMs,
    lockTimeoutMs: Math.min(request + 3 * cacheTimeoutMs, MAX_TIMER_MS),
    timeoutMs,
    maxRetries,
    retryDelayMs: numberFrom(options.retryDelayMs, 500, "retryDelayMs"),
    fetch: functionFrom(options.fetch, globalThis.fetch, "fetch") ?? missingFetch(),
    now: functionFrom(options.now, Date.now, "now"),
    realClock: options.now === undefined,
    emit: emitterFor(functionFrom(options.onEvent, undefined, "onEvent")),
  };
}

import { PropQAuthError } from "./errors.ts";
import type { ClientOptions } from "./options.ts";
import { MemoryCache, type TokenCache } from "./token_cache.ts";

export const DEFAULT_TOKEN_URL = "https://api.propq.com/oauth/token";
export const DEFAULT_BASE_URL = "https://api.propq.com";
const ID_ENV = "PROPQ_CLIENT_ID";
const SECRET_ENV = "PROPQ_CLIENT_SECRET";
const DIGITS = /^\d+$/;
// setTimeout's limit: a longer time limit would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The one cache of the process that every client without a `cache` option shares. */
export const defaultCache: TokenCache = new MemoryCache();

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
}

type EnvHost = {
  Deno?: { env: { get(name: string): string | undefined } };
  process?: { env: Record<string, string | undefined> };
};

let envDenied = false;

/** Reads an environment variable on Deno, Node, Bun; `undefined` on edge runtimes or without permission. */
export function readEnv(name: string): string | undefined {
  const host = globalThis as EnvHost;
  try {
    return host.Deno?.env.get(name) ?? host.process?.env?.[name];
  } catch {
    envDenied = true; // Deno without --allow-env
    return undefined;
  }
}

function missing(what: string, option: string, variable: string): PropQAuthError {
  const denied = envDenied ? ` (Deno needs --allow-env=${ID_ENV},${SECRET_ENV} to read it)` : "";
  return configError(`Missing ${what}: pass ${option} or set ${variable}${denied}`);
}

function configError(message: string): PropQAuthError {
  return new PropQAuthError(message, { code: "config" });
}

function clientIdFrom(value: unknown, source: string): string {
  if (value === undefined || value === "") throw missing("client id", "clientId", ID_ENV);
  const id = typeof value === "number" ? value : typeof value === "string" && DIGITS.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw configError(`Invalid client id from ${source}: expected a positive integer such as 42`);
  }
  return String(id); // "042" and 42 are one client: one cache key
}

function clientSecretFrom(value: unknown, source: string): string {
  if (value === undefined || value === "") throw missing("client secret", "clientSecret", SECRET_ENV);
  if (typeof value !== "string") {
    throw configError(`Invalid client secret from ${source}: expected a string`);
  }
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
  const clientId = clientIdFrom(
    options.clientId ?? readEnv(ID_ENV),
    options.clientId === undefined ? ID_ENV : "clientId",
  );
  const clientSecret = clientSecretFrom(
    options.clientSecret ?? readEnv(SECRET_ENV),
    options.clientSecret === undefined ? SECRET_ENV : "clientSecret",
  );
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
  };
}

/**
 * The transport: `fetch` for the PropQ API with the token on every request,
 * which never leaves the API's origin.
 *
 * @module
 */

import { PropQAuthError } from "./errors.ts";
import type { GetTokenOptions } from "./options.ts";

/** What the transport needs of a token source: a token, and a new one when the API rejects it. */
export interface TokenHandle {
  /** A valid token: the held one, or a new one. */
  get(options?: GetTokenOptions): Promise<string>;
  /**
   * After the API rejected `rejected`: a different token to retry with, or
   * `undefined` when the request should not be retried (a token obtained
   * after another 401 less than 30 s ago was rejected too).
   */
  replace(rejected: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** What the transport uses: where the API is and how to reach it. Never the secret. */
export interface TransportOptions {
  /** The API's base URL; the only origin that receives the token. */
  baseUrl: URL;
  /** The transport underneath. */
  fetch: typeof fetch;
}

/** `fetch`'s signature: what {@linkcode authFetch} returns. */
export type AuthFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const MAX_REDIRECTS = 20;
// What fetch writes itself for a string body; not a caller's choice of type.
const INFERRED_TEXT = "text/plain;charset=UTF-8";

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** Bodies for which fetch infers a Content-Type that must be kept (a multipart boundary, say). */
function bringsOwnType(body: BodyInit | null | undefined): boolean {
  return body instanceof FormData || body instanceof URLSearchParams || (body instanceof Blob && body.type !== "");
}

// A path made only of characters the URL parser keeps as they are resolves to
// the base's prefix followed by the path, so it needs no parse here: parsing
// costs about 1 µs on Deno, as much as the rest of client.fetch (see bench/).
const PLAIN_PATH = /^\/(?![/\\])[\w\-.~!$&'()*+,;=:@%/?#]*$/;
// `//host` and `/\host` name another host to a URL parser: never a path.
const HOST_PATH = /^\/[/\\]/;

/** The base URL taken apart once: its origin, the prefix paths go after, the directory relative paths resolve in. */
interface Base {
  origin: string;
  prefix: string;
  directory: URL;
}

const bases = new WeakMap<URL, Base>();

/**
 * A base URL with a path is a prefix: with `https://proxy.example/propq`,
 * `/v1/x` goes to `https://proxy.example/propq/v1/x`.
 */
function baseOf(url: URL): Base {
  let base = bases.get(url);
  if (base === undefined) {
    const path = url.pathname.replace(/\/+$/, "");
    base = { origin: url.origin, prefix: url.origin + path, directory: new URL(`${path}/`, url.origin) };
    bases.set(url, base);
  }
  return base;
}

/** A plain object of header names and values, which fetch reads faster than a `Headers`. */
function isPlainRecord(value: HeadersInit): value is Record<string, string> {
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, "__proto__");
}

/**
 * The caller's headers plus PropQ's Content-Type and Accept, as a plain object
 * (which fetch reads faster than a `Headers`). A caller's Authorization is
 * dropped: the token's is set for every attempt.
 */
function propqHeaders(
  own: HeadersInit | undefined,
  body: BodyInit | null | undefined,
  request: Request | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  let type: string | undefined;
  let accepts = false;
  const add = (value: string, name: string) => {
    const lower = name.toLowerCase();
    if (lower === "authorization") return;
    if (lower === "content-type") type = value;
    accepts ||= lower === "accept";
    headers[name] = value;
  };
  if (own !== undefined && isPlainRecord(own)) { for (const name of Object.keys(own)) add(own[name], name); }
  else if (own !== undefined) new Headers(own).forEach(add);
  // A Request's text/plain is what fetch inferred for its string body, not a choice.
  if (type === undefined ? !bringsOwnType(body) : request !== undefined && type === INFERRED_TEXT) {
    headers["content-type"] = "application/json";
  }
  if (!accepts) headers.accept = "application/json";
  return headers;
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

/**
 * A `fetch` that sends every request to the API with a token from `tokens`:
 * it resolves relative paths against `baseUrl`, refuses other origins, follows
 * same-origin redirects itself (a token never travels to another origin) and,
 * on a 401, retries once with a fresh token when the body can be replayed.
 */
export function authFetch(tokens: TokenHandle, options: TransportOptions): AuthFetch {
  return (input, init) => send(tokens, options, input, init);
}

async function send(
  tokens: TokenHandle,
  { baseUrl, fetch }: TransportOptions,
  input: string | URL | Request,
  init: RequestInit | undefined,
): Promise<Response> {
  const request = input instanceof Request ? input : undefined;
  const { origin, prefix, directory } = baseOf(baseUrl);
  let url: string | URL;
  if (typeof input === "string" && PLAIN_PATH.test(input)) {
    url = prefix + input;
  } else {
    const target = request?.url ?? input as string | URL;
    url = typeof target === "string" && target.startsWith("/") && !HOST_PATH.test(target)
      ? new URL(prefix + target)
      : new URL(target, directory);
    if (url.origin !== origin) {
      throw new PropQAuthError(
        `Refusing to send the PropQ token to ${url.origin}: only ${origin} receives it`,
        { code: "foreign_origin" },
      );
    }
  }

  const ownBody = init?.body;
  const headers = propqHeaders(init?.headers ?? request?.headers, ownBody, request);

  let method = init?.method ?? request?.method ?? "GET";
  let body: BodyInit | null | undefined = ownBody;
  if (body === undefined && request?.body != null) body = await request.blob();
  // A stream is read as it is sent: it cannot be sent a second time.
  const replayable = !(body instanceof ReadableStream);
  const signal = init?.signal ?? request?.signal;
  const redirect = init?.redirect ?? request?.redirect ?? "follow";

  let token = await tokens.get(signal ? { signal } : undefined);
  let retried = false;
  for (let redirects = 0;;) {
    headers.authorization = `Bearer ${token}`;
    const response = await fetch(url, { ...init, method, headers, body, signal, redirect: "manual" });

    if (response.status === 401 && !retried) {
      retried = true;
      if (!replayable) {
        // The stream is spent: return the 401, but let the next call find a fresh token.
        await tokens.replace(token, signal ?? undefined).catch(() => {});
        return response;
      }
      const fresh = await tokens.replace(token, signal ?? undefined);
      if (fresh === undefined) return response; // this key's token was replaced moments ago: no storm
      await discard(response);
      token = fresh;
      continue;
    }
    if (!isRedirect(response.status) || redirect === "manual") return response;
    const location = response.headers.get("location");
    if (location === null) return response;
    if (redirect === "error") {
      await discard(response);
      throw new TypeError(`Redirect from ${new URL(url).pathname} refused: the request's redirect mode is "error"`);
    }
    const next = new URL(location, url);
    // Not followed: the token stays home, and the caller sees the 3xx.
    if (next.origin !== origin) return response;
    if (++redirects > MAX_REDIRECTS) {
      await discard(response);
      throw new TypeError(`Too many redirects (more than ${MAX_REDIRECTS})`);
    }
    const { status } = response;
    // fetch normalises the case of standard methods: "post" is POST.
    const verb = method.toUpperCase();
    if ((status === 303 && verb !== "HEAD") || ((status === 301 || status === 302) && verb === "POST")) {
      method = "GET";
      body = undefined;
    } else if (!replayable && body != null) {
      return response;
    }
    await discard(response);
    url = next;
  }
}

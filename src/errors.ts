/**
 * Error classes thrown by propq-auth.
 *
 * @module
 */

/**
 * What went wrong while obtaining a token or preparing an authenticated call.
 *
 * - `invalid_request`, `invalid_client` (and any other OAuth `error` string the
 *   server sends, unless it is one of the library's own codes below, which
 *   becomes `http_error`): the token endpoint refused the request;
 * - `invalid_response`: a 2xx answer that is not a usable Bearer token;
 * - `http_error`: any other non-2xx answer, including an exhausted 429/5xx;
 * - `network_error`, `timeout`: the token endpoint could not be reached in time;
 * - `config`: a missing or malformed client id, secret or option, or a runtime
 *   permission the call needs (Deno's `--allow-net`);
 * - `foreign_origin`: a request to an origin other than the API's was refused.
 */
export type PropQAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_response"
  | "http_error"
  | "network_error"
  | "timeout"
  | "config"
  | "foreign_origin"
  // deno-lint-ignore ban-types
  | (string & {});

/** Options of the {@linkcode PropQAuthError} constructor. */
export interface PropQAuthErrorOptions {
  /** The machine-readable reason; see {@linkcode PropQAuthErrorCode}. */
  code: PropQAuthErrorCode;
  /** The HTTP status of the token endpoint's answer, when there was one. */
  status?: number;
  /** The OAuth `error` string the server sent, as it sent it. */
  oauthError?: string;
  /** PropQ's `hint` field, e.g. "Check the `client_id` parameter". */
  hint?: string;
  /** PropQ's `message` (or the OAuth `error_description`). */
  description?: string;
  /** The token endpoint's response, its body already read. */
  response?: Response;
  /** The underlying error (a network `TypeError`, a `SyntaxError`, …). */
  cause?: unknown;
}

// A registered symbol marks both classes' instances, so `instanceof` holds
// across copies of the package (its ES module and CommonJS builds, say).
const AUTH_BRAND = Symbol.for("propq-auth.PropQAuthError");
const API_BRAND = Symbol.for("propq-auth.PropQApiError");

function branded(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** Sets the own fields of `options` that are defined, so unset ones stay unset (no `hint: undefined`). */
function assignDefined(target: object, fields: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) Object.defineProperty(target, name, { value, enumerable: true });
  }
}

function hideResponse(target: object, response: Response | undefined): void {
  if (response !== undefined) Object.defineProperty(target, "response", { value: response, enumerable: false });
}

/**
 * Thrown when no token can be obtained, or when a request is refused before it
 * leaves the process. Never carries the client secret or a token.
 *
 * @example Telling a bad secret from an outage
 * ```ts
 * import { PropQAuthError } from "@propq/auth";
 * import assert from "node:assert/strict";
 *
 * const error = new PropQAuthError(
 *   "Cannot obtain token: server responded 401 invalid_client",
 *   { code: "invalid_client", status: 401 },
 * );
 * assert.ok(error instanceof PropQAuthError);
 * assert.equal(error.code, "invalid_client");
 * assert.equal(error.status, 401);
 * assert.equal(error.name, "PropQAuthError");
 * ```
 */
export class PropQAuthError extends Error {
  /** The machine-readable reason; see {@linkcode PropQAuthErrorCode}. */
  declare readonly code: PropQAuthErrorCode;
  /** The HTTP status of the token endpoint's answer, when there was one. */
  declare readonly status?: number;
  /** The OAuth `error` string the server sent, as it sent it (even when `code` is `http_error`). */
  declare readonly oauthError?: string;
  /** PropQ's `hint`, when the server sent one. */
  declare readonly hint?: string;
  /** PropQ's `message` (or the OAuth `error_description`), when sent. */
  declare readonly description?: string;
  /** The token endpoint's response (not enumerable, so not in JSON). */
  declare readonly response?: Response;

  /**
   * Creates an error; the library does this, callers rarely need to.
   *
   * @param message A sentence saying what failed, free of secrets.
   * @param options The code and the details of the answer.
   */
  constructor(message: string, options: PropQAuthErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const { code, status, oauthError, hint, description } = options;
    assignDefined(this, { code, status, oauthError, hint, description });
    hideResponse(this, options.response);
  }

  /**
   * `true` for a `PropQAuthError` from any copy of this package (its ES module
   * and CommonJS builds are two copies), so `instanceof` works across them.
   *
   * @param value Anything.
   * @returns Whether `value` is a `PropQAuthError`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, AUTH_BRAND);
  }
}

Object.defineProperty(PropQAuthError.prototype, AUTH_BRAND, { value: true });
Object.defineProperty(PropQAuthError.prototype, "name", {
  value: "PropQAuthError",
  writable: true,
  configurable: true,
});

/** Options of the {@linkcode PropQApiError} constructor. */
export interface PropQApiErrorOptions {
  /** The API's HTTP status. */
  status: number;
  /** The API's validation messages by field (a 422's `errors`). */
  errors?: Record<string, string[]>;
  /** The API's own message, when its body had one. */
  description?: string;
  /** The API's response, its body already read. */
  response: Response;
  /** The parsed JSON body, or the text when it was not JSON. */
  body?: unknown;
}

/**
 * Thrown by typed API calls such as `updateUnitByName` when the PropQ API
 * answers with anything but 2xx: 400 processing error, 401, 403 not privileged,
 * 419 wrong method, 422 validation errors, 5xx, or a 3xx (wrong Content-Type).
 *
 * @example Reading the validation messages of a 422
 * ```ts
 * import { PropQApiError } from "@propq/auth";
 * import assert from "node:assert/strict";
 *
 * const response = new Response(null, { status: 422 });
 * const error = new PropQApiError("PropQ API responded 422", {
 *   status: 422,
 *   errors: { UntPrice: ["The unt price must be a number."] },
 *   response,
 * });
 * assert.equal(error.status, 422);
 * assert.deepEqual(error.errors?.UntPrice, ["The unt price must be a number."]);
 * ```
 */
export class PropQApiError extends Error {
  /** The API's HTTP status. */
  declare readonly status: number;
  /** The API's validation messages by field, for a 422. */
  declare readonly errors?: Record<string, string[]>;
  /** The API's own message, when its body had one. */
  declare readonly description?: string;
  /** The parsed JSON body, or its text when it was not JSON. */
  declare readonly body?: unknown;
  /** The API's response, body already read (not enumerable). */
  declare readonly response: Response;

  /**
   * Creates an error; the library does this, callers rarely need to.
   *
   * @param message A sentence saying what the API answered.
   * @param options The status, validation messages and response.
   */
  constructor(message: string, options: PropQApiErrorOptions) {
    super(message);
    const { status, errors, description, body } = options;
    assignDefined(this, { status, errors, description, body });
    hideResponse(this, options.response);
  }

  /**
   * `true` for a `PropQApiError` from any copy of this package, so
   * `instanceof` works across its ES module and CommonJS builds.
   *
   * @param value Anything.
   * @returns Whether `value` is a `PropQApiError`.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return branded(value, API_BRAND);
  }
}

Object.defineProperty(PropQApiError.prototype, API_BRAND, { value: true });
Object.defineProperty(PropQApiError.prototype, "name", { value: "PropQApiError", writable: true, configurable: true });

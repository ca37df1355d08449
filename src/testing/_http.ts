/**
 * HTTP pieces of the test server: PropQ's messages, bodies in and out, the
 * checks PropQ applies to a unit update.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { Buffer } from "node:buffer";

/** PropQ's `message` for a 400 `invalid_request`. */
export const BAD_REQUEST_MESSAGE =
  "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.";
/** The documented update route; group 1 is the development id. */
export const UPDATE_ROUTE = /^\/v1\/developments\/([^/]+)\/units\/update-by-name$/;

/** Base64url without padding, as JWTs use it. */
export function base64url(text: string | Uint8Array): string {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An unsigned JWT (`alg: none`) carrying `claims`, with a random signature part. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  return [
    base64url(JSON.stringify({ typ: "JWT", alg: "none" })),
    base64url(JSON.stringify(claims)),
    base64url(crypto.getRandomValues(new Uint8Array(16))),
  ].join(".");
}

/** A random client secret of 40 characters. */
export function randomSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(30)));
}

/** Answers with `body`: a string as text, anything else as JSON. */
export function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const type = typeof body === "string" ? "text/plain; charset=utf-8" : "application/json";
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** The whole request body as UTF-8 text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The request's headers as one string each (names lower-cased, repeated values joined with ", "). */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/** PropQ's 422 messages for a unit update body, by field; empty when valid. */
export function validateUnit(body: unknown): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const unit = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof unit.UntName !== "string" || unit.UntName === "") errors.UntName = ["The unt name field is required."];
  if (![1, 2, 4, 8].includes(unit.UntStatus as number)) errors.UntStatus = ["The selected unt status is invalid."];
  if (typeof unit.UntPrice !== "number" || unit.UntPrice < 0) errors.UntPrice = ["The unt price must be a number."];
  if (!Array.isArray(unit.UntDirections) || !unit.UntDirections.every((d) => typeof d === "string")) {
    errors.UntDirections = ["The unt directions must be an array."];
  }
  return errors;
}

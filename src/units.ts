/**
 * Typed calls of the documented PropQ API: units of new developments.
 *
 * @module
 */

import type { PropQClient } from "./client.ts";
import { PropQApiError } from "./errors.ts";

/**
 * Unit statuses as the PropQ API numbers them.
 *
 * @example
 * ```ts
 * import { UnitStatus } from "@propq/auth";
 * import assert from "node:assert/strict";
 *
 * assert.equal(UnitStatus.SOLD, 4);
 * ```
 */
export const UnitStatus = { AVAILABLE: 1, HOLD: 2, SOLD: 4, RESERVED: 8 } as const;

/** One of the {@linkcode UnitStatus} values: 1, 2, 4 or 8. */
export type UnitStatus = typeof UnitStatus[keyof typeof UnitStatus];

/** The body of `POST /v1/developments/{id}/units/update-by-name`. */
export interface UnitUpdate {
  /** The unit's name, as the development lists it. */
  UntName: string;
  /** The new status. */
  UntStatus: UnitStatus;
  /** The new price, a finite number ≥ 0. */
  UntPrice: number;
  /** Directions (orientations) of the unit, e.g. `["North", "East"]`. */
  UntDirections: string[];
}

const STATUSES: readonly number[] = Object.values(UnitStatus);

function developmentPath(developmentId: string | number): string {
  if (typeof developmentId !== "number" && typeof developmentId !== "string") {
    throw new TypeError(`developmentId must be a positive integer or a string of digits, got ${typeof developmentId}`);
  }
  // Digits only: anything else (".", "..", "1/../2") would change the path sent.
  const id = typeof developmentId === "number"
    ? developmentId
    : /^\d+$/.test(developmentId)
    ? Number(developmentId)
    : NaN;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new RangeError(`developmentId must be a positive integer such as 1234, got ${JSON.stringify(developmentId)}`);
  }
  return String(id);
}

function validUnit(unit: UnitUpdate): UnitUpdate {
  if (typeof unit !== "object" || unit === null) throw new TypeError("unit must be an object");
  const { UntName, UntStatus: status, UntPrice, UntDirections } = unit;
  if (typeof UntName !== "string") throw new TypeError(`UntName must be a string, got ${typeof UntName}`);
  if (UntName.trim() === "") throw new RangeError("UntName must not be empty");
  if (typeof status !== "number") throw new TypeError(`UntStatus must be a number, got ${typeof status}`);
  if (!STATUSES.includes(status)) {
    throw new RangeError(`UntStatus must be one of ${STATUSES.join(", ")} (see UnitStatus), got ${status}`);
  }
  if (typeof UntPrice !== "number") throw new TypeError(`UntPrice must be a number, got ${typeof UntPrice}`);
  if (!Number.isFinite(UntPrice) || UntPrice < 0) {
    throw new RangeError(`UntPrice must be a finite number ≥ 0, got ${UntPrice}`);
  }
  if (!Array.isArray(UntDirections) || !UntDirections.every((d) => typeof d === "string")) {
    throw new TypeError("UntDirections must be an array of strings");
  }
  return { UntName, UntStatus: status, UntPrice, UntDirections: [...UntDirections] };
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function validationErrors(body: unknown): Record<string, string[]> | undefined {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (typeof errors !== "object" || errors === null || Array.isArray(errors)) return undefined;
  const result: Record<string, string[]> = {};
  for (const [field, messages] of Object.entries(errors)) {
    result[field] = (Array.isArray(messages) ? messages : [messages]).map(String);
  }
  return result;
}

const REASONS: Record<number, string> = {
  400: "processing error",
  401: "token missing or invalid",
  403: "not privileged",
  419: "wrong HTTP method",
  422: "validation failed",
};

function reason(status: number): string {
  if (status >= 300 && status < 400) {
    return "redirect: the API does this when a request lacks Content-Type: application/json";
  }
  return REASONS[status] ?? (status >= 500 ? "server error" : "unexpected status");
}

/**
 * Updates a unit of a development by its name:
 * `POST /v1/developments/{developmentId}/units/update-by-name`.
 *
 * The input is checked before anything is sent. The call goes through the
 * client's authenticated fetch, so it carries the token and PropQ's headers.
 *
 * @param client A client from `createClient` (anything with its `fetch`).
 * @param developmentId The development's id.
 * @param unit The unit's name and its new status, price and directions.
 * @returns The API's JSON answer.
 * @throws {TypeError} when an argument has the wrong type.
 * @throws {RangeError} for an unknown status, a negative or non-finite price,
 * an empty name, or a development id that is not a positive integer (or a
 * string of digits).
 * @throws {PropQApiError} when the API answers anything but 2xx (400, 403,
 * 419, 422 with its `errors`, 5xx, or a 3xx), keeping status and response.
 * @throws {PropQAuthError} when no token can be obtained.
 *
 * @example Marking a unit sold
 * ```ts
 * import { createClient, updateUnitByName, UnitStatus } from "@propq/auth";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * const server = await startTestServer();
 * const client = createClient({
 *   clientId: server.clientId,
 *   clientSecret: server.clientSecret,
 *   tokenUrl: server.tokenUrl,
 *   baseUrl: server.baseUrl,
 * });
 * const answer = await updateUnitByName(client, 1234, {
 *   UntName: "A-101",
 *   UntStatus: UnitStatus.SOLD,
 *   UntPrice: 350000,
 *   UntDirections: ["South"],
 * });
 * assert.ok(answer);
 * await server.close();
 * ```
 */
export async function updateUnitByName(
  client: Pick<PropQClient, "fetch">,
  developmentId: string | number,
  unit: UnitUpdate,
): Promise<unknown> {
  const path = `/v1/developments/${developmentPath(developmentId)}/units/update-by-name`;
  const body = JSON.stringify(validUnit(unit));
  // "manual": a 3xx from this endpoint means a rejected request, not a move.
  const response = await client.fetch(path, { method: "POST", body, redirect: "manual" });
  const answer = parseBody(await response.text());
  if (response.ok) return answer;
  const errors = validationErrors(answer);
  const description = typeof (answer as { message?: unknown } | null)?.message === "string"
    ? (answer as { message: string }).message
    : undefined;
  const details = errors === undefined
    ? ""
    : ` (${Object.entries(errors).map(([field, messages]) => `${field}: ${messages.join(" ")}`).join("; ")})`;
  throw new PropQApiError(
    `PropQ API responded ${response.status} to update-by-name, ${reason(response.status)}` +
      (description ? `: ${description}` : "") + details,
    { status: response.status, errors, description, response, body: answer },
  );
}

/**
 * Hands events to the caller's `onEvent`, safely.
 *
 * @module
 */

import type { PropQAuthEvent, RefreshFailedEvent, RetryEvent } from "./events.ts";

/** Sends one event; present only when the caller set `onEvent`, so no event is built otherwise. */
export type Emit = (event: PropQAuthEvent) => void;

/** An {@linkcode Emit} over `onEvent` that a throwing handler cannot break; `undefined` without one. */
export function emitterFor(onEvent: ((event: PropQAuthEvent) => void) | undefined): Emit | undefined {
  if (onEvent === undefined) return undefined;
  return (event) => {
    try {
      onEvent(event);
    } catch {
      // A failing handler must not change what the client does.
    }
  };
}

/** An event about a failure: its `code` and, when there was an answer, its HTTP `status`. */
export function failureEvent<T extends "retry" | "refresh_failed">(
  type: T,
  clientId: string,
  error: unknown,
  fields: Omit<Extract<RetryEvent | RefreshFailedEvent, { type: T }>, "type" | "clientId" | "code" | "status">,
): Extract<RetryEvent | RefreshFailedEvent, { type: T }> {
  const { code, status } = (error ?? {}) as { code?: unknown; status?: unknown };
  return {
    type,
    clientId,
    code: typeof code === "string" ? code : "unknown",
    ...(typeof status === "number" ? { status } : {}),
    ...fields,
  } as Extract<RetryEvent | RefreshFailedEvent, { type: T }>;
}

/**
 * How `KvCache` talks to a KV handle: values as JSON bytes, brief retries
 * while another writer holds the store, and errors that name the fix.
 *
 * @module
 */

import { backoff, retry } from "../_retry.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// sqlite answers "database is locked" while another process writes the same
// file; these waits (about a second in all) outlast any write of ours.
const LOCKED_RETRIES = 8;
const LOCKED_PATTERN = /database (table )?is locked|SQLITE_BUSY/i;
// @deno/kv on Bun refuses to open without a serializer pair (Bun's node:v8 writes JavaScriptCore's format).
const SERIALIZER_PATTERN = /encodeV8|decodeV8|JavaScriptCore/;

/** What a Bun user passes to `@deno/kv`'s `openKv`, quoted in errors and docs alike. */
export const BUN_OPEN_KV =
  'import { makeLimitedV8Serializer, openKv } from "@deno/kv"; const kv = await openKv(path, makeLimitedV8Serializer())';

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isLocked(error: unknown): boolean {
  return LOCKED_PATTERN.test(messageOf(error));
}

/** 20 ms doubling to a 250 ms cap, each wait jittered down to half so waiters spread out. */
export function pause(attempt: number): number {
  return backoff(attempt, 20, 250);
}

/**
 * Runs one call to the KV handle, retrying it briefly while the store is
 * locked by another writer. A failure that comes from the handle's V8
 * serializer becomes a TypeError saying what to pass instead.
 */
export async function kvCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await retry(operation, isLocked, (attempt) => attempt < LOCKED_RETRIES ? pause(attempt) : undefined);
  } catch (error) {
    if (!SERIALIZER_PATTERN.test(messageOf(error))) throw error;
    throw new TypeError(
      `KvCache: the KV handle cannot serialize values (${messageOf(error)}). KvCache stores only Uint8Array ` +
        `bytes, so any encodeV8/decodeV8 pair works; on Bun: ${BUN_OPEN_KV}`,
      { cause: error },
    );
  }
}

/** `value` as JSON bytes: what Deno and Node processes sharing one KV both read. */
export function encode(value: object): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** The JSON in `value`, or `undefined` for anything else (a V8-serialized value, broken bytes). */
export function decode(value: unknown): unknown {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    return JSON.parse(decoder.decode(value));
  } catch {
    return undefined;
  }
}

/**
 * The KV methods `KvCache` calls, typed structurally: a `Deno.Kv` and
 * `@deno/kv`'s `Kv` both fit, and this package depends on neither.
 *
 * @module
 */

/**
 * One atomic operation, as built by {@linkcode KvLike.atomic}: the methods of
 * `Deno.AtomicOperation` that `KvCache` calls.
 */
export interface KvAtomicLike {
  /** Makes the commit fail unless `key` still has this versionstamp (`null`: absent). */
  check(check: { key: string[]; versionstamp: string | null }): KvAtomicLike;
  /** Sets `key` to `value` if the checks pass, removing it after `expireIn` ms. */
  set(key: string[], value: Uint8Array, options?: { expireIn?: number }): KvAtomicLike;
  /** Deletes `key` if the checks pass. */
  delete(key: string[]): KvAtomicLike;
  /** Applies the operation; `ok` is false when a check failed. */
  commit(): Promise<{ ok: true; versionstamp: string } | { ok: false }>;
}

/**
 * The methods of a KV handle that `KvCache` calls, typed structurally: a
 * `Deno.Kv` and `@deno/kv`'s `Kv` both fit, and this package depends on
 * neither. `KvCache` only ever writes `Uint8Array` values, which KV stores as
 * raw bytes: the handle's V8 serializer is never used for them.
 *
 * @example A Deno KV handle fits
 * ```ts
 * import type { KvLike } from "@propq/auth/kv";
 * import assert from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const handle: KvLike = kv;
 * assert.equal((await handle.get(["nothing"])).versionstamp, null);
 * kv.close();
 * ```
 */
export interface KvLike {
  /** Reads `key`; `versionstamp` is `null` when it is absent. */
  get(key: string[]): Promise<{ value: unknown; versionstamp: string | null }>;
  /** Writes `key`, removing it after `expireIn` ms. */
  set(key: string[], value: Uint8Array, options?: { expireIn?: number }): Promise<unknown>;
  /** Deletes `key`. */
  delete(key: string[]): Promise<void>;
  /** Starts an atomic operation. */
  atomic(): KvAtomicLike;
}

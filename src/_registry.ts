/**
 * What every client of the process shares: the default cache, and one slot
 * per cache and key where clients built with the same options meet (so their
 * concurrent token requests become one).
 *
 * @module
 */

import { MemoryCache } from "./memory_cache.ts";
import type { TokenCache } from "./token_cache.ts";

/** The cache of every client built without a `cache` option: one per process. */
export const defaultCache: TokenCache = new MemoryCache();

const slots = new WeakMap<TokenCache, Map<string, unknown>>();

/** The object shared under `cache` and `key`, made by `create` on first use. */
export function sharedSlot<T>(cache: TokenCache, key: string, create: () => T): T {
  let byKey = slots.get(cache);
  if (byKey === undefined) slots.set(cache, byKey = new Map());
  let slot = byKey.get(key) as T | undefined;
  if (slot === undefined) byKey.set(key, slot = create());
  return slot;
}

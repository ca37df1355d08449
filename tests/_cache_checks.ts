// The names verifyTokenCache() resolves with: what every cache's own test expects it to have run.

/** The checks of any cache. */
export const STORAGE_CHECKS = [
  "round trip",
  "keys kept apart",
  "replace",
  "expired entries never served",
  "delete removes only its key",
  "garbage tolerated",
];

/** The checks of a cache with a `lock`; the last needs the `abandonLock` option. */
export const LOCK_CHECKS = [
  "lock: one holder at a time",
  "lock: release by the owner only",
  "lock: takeover after the holder dies",
];

/** Every check, as a cache with a lock and an `abandonLock` passes them. */
export const ALL_CHECKS = [...STORAGE_CHECKS, ...LOCK_CHECKS];

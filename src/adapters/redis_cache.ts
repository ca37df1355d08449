/**
 * Work in progress (issue 13): replaced by the Redis adapter before this lands.
 *
 * @module
 */

/** Placeholder until the Redis adapter lands. */
export const REDIS_PENDING = true;

/**
 * A token cache in Redis or Valkey, shared by every process of a fleet, over
 * whatever client the application already runs: node-redis, ioredis, Bun's
 * built-in client, or an HTTP one (Upstash). The package depends on none of
 * them: {@linkcode RedisCache} takes one function that sends a command.
 *
 * @module
 */

import { sleep } from "../_async.ts";
import { liveToken, storable } from "../_cached_token.ts";
import { backoff } from "../_retry.ts";
import type { CachedToken, TokenCache } from "../token_cache.ts";
import { positiveMs } from "./_options.ts";
import { type RedisCommand, replyText, send } from "./_redis_command.ts";
import { claimLease } from "./_redis_lease.ts";

export type { CachedToken, TokenCache } from "../token_cache.ts";
export type { RedisCommand } from "./_redis_command.ts";

/** Options of the {@linkcode RedisCache} constructor. */
export interface RedisCacheOptions {
  /** Prepended to every key written, e.g. `"my-app:propq:"`. Default `"propq-auth:"`. */
  prefix?: string;
  /**
   * How long the fleet's lease lasts unless renewed, in ms: the most a
   * crashed holder can hold up the others. A live holder renews it every
   * third of this time, however long its token request takes. Default 15000.
   */
  leaseMs?: number;
  /**
   * The longest {@linkcode RedisCache.lock} waits while another process holds
   * the lease, in ms, before going on without it. Default 100000: longer than
   * a token request's worst case with the client's default retries and
   * `Retry-After` (about 90 s), shorter than the client's own limit on a lock
   * wait (105 s). Raise it with the client's `timeoutMs` or `maxRetries`.
   */
  waitMs?: number;
}

/** The time limit of every command but a renewal (which gets a third of the lease). */
const COMMAND_MS = 5_000;

const noRelease = () => Promise.resolve();

/**
 * Keeps tokens in Redis (or Valkey, or any server speaking its commands), so
 * every process of a fleet reuses one token, and processes starting cold make
 * one token request between them.
 *
 * - A token is JSON (`accessToken`, `expiresAt`, `issuedAt`) stored with
 *   `SET key value PX <remaining life>` at `prefix` + the cache key. The cache
 *   key holds a fingerprint of the secret, never the secret.
 * - A value that is not a token is a miss; an expired one is never served.
 * - {@linkcode RedisCache.lock} is a lease at `prefix` + `"lock:"` + the cache
 *   key, claimed with `SET NX PX`, renewed while held, released only by its
 *   owner (compare-and-delete in one script).
 * - Every command has a time limit (5 s). When Redis is down or slow, each
 *   operation rejects (the client counts it as a miss and still answers);
 *   errors never carry a token. Set the Redis client to fail while
 *   disconnected rather than queue (node-redis `disableOfflineQueue: true`,
 *   ioredis `enableOfflineQueue: false`), and close it gracefully (`close()`,
 *   `quit()`): `getToken()` answers before its cache write is done.
 *
 * @example Two processes, one token (an in-memory stand-in for Redis)
 * ```ts
 * import { createClient } from "@propq/auth";
 * import { RedisCache, type RedisCommand } from "@propq/auth/redis";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 *
 * // In production: `(args) => client.sendCommand(args)` over node-redis, say. Here a Map
 * // answers the commands RedisCache sends (no expiry, and the two scripts by what they do).
 * const data = new Map<string, string>();
 * const command: RedisCommand = (args) => {
 *   const [name, key, value] = args;
 *   let reply: unknown = "OK";
 *   if (name === "GET") reply = data.get(key) ?? null;
 *   else if (name === "DEL") reply = Number(data.delete(key));
 *   else if (name === "EVAL") { // compare-and-renew or compare-and-delete of a lease: ["EVAL", script, "1", lease, owner]
 *     reply = Number(data.get(args[3]) === args[4]);
 *     if (reply === 1 && key.includes('"DEL"')) data.delete(args[3]);
 *   } else if (args.includes("NX") && data.has(key)) reply = null;
 *   else data.set(key, value);
 *   return Promise.resolve(reply);
 * };
 *
 * const server = await startTestServer();
 * const options = { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl };
 * const token = await createClient({ ...options, cache: new RedisCache(command) }).getToken();
 * const other = createClient({ ...options, cache: new RedisCache(command) }); // another process
 * assert.equal(await other.getToken(), token);
 * assert.equal(server.tokenRequests, 1);
 * const [key] = data.keys();
 * assert.ok(key.startsWith("propq-auth:") && !key.includes(server.clientSecret));
 * assert.equal(JSON.parse(data.get(key)!).accessToken, token);
 * await server.close();
 * ```
 */
export class RedisCache implements TokenCache {
  #command: RedisCommand;
  #prefix: string;
  #leaseMs: number;
  #waitMs: number;

  /**
   * Wraps a command function. Sends nothing and starts nothing: the client
   * behind it stays yours to connect and close.
   *
   * @param command Sends one command, e.g. `(args) => client.sendCommand(args)`.
   * @param options The key prefix and the lease's timing.
   * @throws {TypeError} when `command` is not a function or `prefix` is not a string.
   * @throws {RangeError} when `leaseMs` or `waitMs` is not a positive number of ms (up to 2^31-1).
   *
   * @example Refusing what cannot work
   * ```ts
   * import { RedisCache } from "@propq/auth/redis";
   * import assert from "node:assert/strict";
   *
   * const command = () => Promise.resolve(null);
   * assert.throws(() => new RedisCache(undefined as never), TypeError);
   * assert.throws(() => new RedisCache(command, { prefix: 42 as never }), TypeError);
   * assert.throws(() => new RedisCache(command, { leaseMs: 0 }), RangeError);
   * assert.ok(new RedisCache(command, { prefix: "app:", leaseMs: 5_000, waitMs: 60_000 }));
   * ```
   */
  constructor(command: RedisCommand, options: RedisCacheOptions = {}) {
    if (typeof command !== "function") {
      throw new TypeError(
        "Cannot create RedisCache: command must be a function, e.g. (args) => client.sendCommand(args)",
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Cannot create RedisCache: options must be an object");
    }
    const { prefix = "propq-auth:" } = options;
    if (typeof prefix !== "string") throw new TypeError("Cannot create RedisCache: prefix must be a string");
    this.#command = command;
    this.#prefix = prefix;
    this.#leaseMs = positiveMs("RedisCache", "leaseMs", options.leaseMs, 15_000);
    this.#waitMs = positiveMs("RedisCache", "waitMs", options.waitMs, 100_000);
  }

  /**
   * Returns the token stored under `key` while it has life left.
   *
   * @param key The cache key.
   * @returns The token, or `undefined` when absent, expired or not a token.
   * @throws {Error} when Redis fails or does not answer within 5 s.
   */
  async get(key: string): Promise<CachedToken | undefined> {
    const text = replyText(await send(this.#command, ["GET", this.#prefix + key], COMMAND_MS));
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    return liveToken(value);
  }

  /**
   * Stores `token` under `key` until it expires (`PX` = its remaining life);
   * an already expired token removes the entry instead.
   *
   * @param key The cache key.
   * @param token The token; only `accessToken`, `expiresAt` and `issuedAt` are stored.
   * @returns Once written.
   * @throws {TypeError} when `token` has no usable `accessToken` or no finite `expiresAt`.
   * @throws {Error} when Redis fails or does not answer within 5 s.
   */
  async set(key: string, token: CachedToken): Promise<void> {
    const { stored, lifeMs: life } = storable(token);
    if (life <= 0) return this.delete(key);
    const args = ["SET", this.#prefix + key, JSON.stringify(stored), "PX", String(life)];
    await send(this.#command, args, COMMAND_MS, stored.accessToken);
  }

  /**
   * Removes the token stored under `key`, if any.
   *
   * @param key The cache key.
   * @returns Once removed.
   * @throws {Error} when Redis fails or does not answer within 5 s.
   */
  async delete(key: string): Promise<void> {
    await send(this.#command, ["DEL", this.#prefix + key], COMMAND_MS);
  }

  /**
   * Takes the fleet's lease on `key`, so one process fetches a token while
   * the others wait, then find it in the cache. Waiters poll the lease and
   * the token (25 ms backoff up to 250 ms, jittered) and return as soon as a
   * new token is stored, or claim the lease once it is free: released, or
   * lapsed because its holder died (after `leaseMs`, on Redis' clock). After
   * `waitMs` they go on without it.
   *
   * @param key The cache key.
   * @returns The release: deletes the lease if this process still owns it.
   * After a wait that ended with a new token, or timed out, one that does nothing.
   * @throws {Error} when Redis fails or does not answer within 5 s: the client then goes on without the lock.
   *
   * @example Two processes taking turns (a Map standing in for Redis)
   * ```ts
   * import { RedisCache, type RedisCommand } from "@propq/auth/redis";
   * import assert from "node:assert/strict";
   *
   * const data = new Map<string, string>();
   * const command: RedisCommand = ([name, key, value, ...rest]) => {
   *   if (name === "GET") return Promise.resolve(data.get(key) ?? null);
   *   if (name === "EVAL") { // the release: ["EVAL", script, "1", lease, owner]
   *     const owned = data.get(rest[0]) === rest[1];
   *     if (owned) data.delete(rest[0]);
   *     return Promise.resolve(Number(owned));
   *   }
   *   if (data.has(key)) return Promise.resolve(null); // SET … NX: taken
   *   data.set(key, value);
   *   return Promise.resolve("OK");
   * };
   * const first = new RedisCache(command);
   * const second = new RedisCache(command, { waitMs: 100 });
   * const release = await first.lock("k");
   * const giveUp = await second.lock("k"); // held: waits 100 ms, then goes on without it
   * await giveUp(); // releases nothing: the lease is still first's
   * assert.ok(data.has("propq-auth:lock:k"));
   * await release();
   * assert.equal(data.size, 0);
   * ```
   */
  async lock(key: string): Promise<() => Promise<void>> {
    const lease = this.#prefix + "lock:" + key;
    const options = { leaseMs: this.#leaseMs, commandMs: COMMAND_MS };
    const deadline = Date.now() + this.#waitMs;
    let before: string | undefined;
    for (let attempt = 0;; attempt++) {
      const release = await claimLease(this.#command, lease, options);
      if (release !== undefined) return release;
      // A holder is alive. Only a token other than the one seen at first is its
      // work: the first may be the very token it is refreshing.
      const current = (await this.get(key))?.accessToken;
      if (attempt === 0) before = current;
      else if (current !== undefined && current !== before) return noRelease;
      const left = deadline - Date.now();
      if (left <= 0) return noRelease;
      await sleep(Math.min(left, backoff(attempt, 25, 250)));
    }
  }
}

/**
 * A token cache in a JSON file shared by every process of a machine: a CLI, a
 * cron job and a pool of workers fetch one token between them. Built on
 * `node:fs`, so it runs on Deno, Node and Bun (not on edge runtimes).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { cachedTokenFrom } from "../_cached_token.ts";
import type { CachedToken, TokenCache } from "../token_cache.ts";
import { directoryMode, readRegularFile, removeStaleTemps, userCacheDir, writeAtomic } from "./_file_io.ts";
import { acquireLock, type LockOptions, type Release } from "./_file_lock.ts";
import { positiveMs } from "./_options.ts";

export type { CachedToken, TokenCache } from "../token_cache.ts";

/** Options of {@linkcode FileCache}. */
export interface FileCacheOptions {
  /**
   * Called with the first failure of this cache (a file it cannot read or
   * write, a path that is not a small regular file, a lock it gave up on),
   * once per instance, and once with a warning about a directory other users
   * can write to. On a failure the cache behaves as a miss: tokens are still
   * fetched, only not shared. Default: a warning on stderr, through
   * `process.emitWarning` (type `PropQAuthWarning`, code
   * `PROPQ_AUTH_FILE_CACHE`) on Node and Bun, as a `Warning: propq-auth …`
   * line on Deno.
   */
  onError?: (error: Error) => void;
  /**
   * A lock file its holder has not refreshed for this long, in ms, is taken
   * over. Holders refresh their lock every third of this time, however long
   * their token request takes, so only a holder that crashed (or froze that
   * long) loses it. A waiter judges this by the file's age and by how long it
   * has itself watched the file stay unchanged, so a clock set back does not
   * keep a dead holder's lock alive. Default 30000.
   */
  staleLockMs?: number;
  /**
   * The longest {@linkcode FileCache.prototype.lock} waits for a lock another
   * process holds and keeps refreshing, in ms, after which this process goes
   * on without it (and may fetch a token of its own). Set it above your
   * clients' worst case, `(maxRetries + 1) · timeoutMs + maxRetries · 30 s`.
   * Default 120000: that worst case with default client options (about 90 s,
   * a 429 with `Retry-After: 30` included) plus the cache write, with margin;
   * or twice `staleLockMs` when that is longer.
   */
  lockTimeoutMs?: number;
}

const FORMAT = "propq-auth/tokens";
const VERSION = 1;
const DEFAULT_STALE_LOCK_MS = 30_000;
/** A token request's worst case with default client options (3 × 10 s + 2 × 30 s) plus margin. */
const DEFAULT_LOCK_TIMEOUT_MS = 120_000;
/** Far more than thousands of tokens need: a larger file is not ours, and is never parsed. */
const MAX_FILE_BYTES = 1024 * 1024;
/**
 * The lock of writes, held for milliseconds: a crashed writer's is taken over
 * after 2 s, and a writer gives up after 4 s (within the client's 5 s limit on
 * cache operations), so a lock file someone keeps touching never stalls one.
 */
const WRITE_LOCK: LockOptions = { staleMs: 2_000, timeoutMs: 4_000 };
/** A temporary file of a write this old was left by a killed writer: writes take milliseconds. */
const STALE_TEMP_MS = 10_000;

type Tokens = Map<string, CachedToken>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The tokens in the file's text; a missing, corrupt or foreign file holds none. */
function parse(text: string | undefined): Tokens {
  const tokens: Tokens = new Map();
  if (text === undefined) return tokens;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return tokens;
  }
  if (!isRecord(data) || data.format !== FORMAT || data.version !== VERSION || !isRecord(data.tokens)) return tokens;
  for (const [key, value] of Object.entries(data.tokens)) {
    const token = cachedTokenFrom(value);
    if (token !== undefined) tokens.set(key, token);
  }
  return tokens;
}

function serialize(tokens: Tokens): string {
  const now = Date.now();
  const live = [...tokens].filter(([, token]) => token.expiresAt > now);
  return `${JSON.stringify({ format: FORMAT, version: VERSION, tokens: Object.fromEntries(live) }, null, 2)}\n`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function warn(error: Error): void {
  if ("Deno" in globalThis) {
    // Deno labels process.emitWarning "(node:PID)", which misleads there.
    process.stderr.write(`Warning: propq-auth ${error.message}\n`);
  } else {
    process.emitWarning(error.message, { type: "PropQAuthWarning", code: "PROPQ_AUTH_FILE_CACHE" });
  }
}

/**
 * Keeps tokens in a JSON file that every process of the machine shares, so a
 * CLI, a cron job or a pool of workers fetch one token between them and reuse
 * it for its whole life (30 days for PropQ).
 *
 * - The file is created at mode 0600, in a directory created at mode 0700. It
 *   holds tokens and their expiry, never a client secret. A directory other
 *   users can write to is reported once through `onError`.
 * - Only a regular file of at most 1 MiB is read, without following a
 *   symlink or blocking on a FIFO: anything else at the path is a miss,
 *   reported once through `onError`.
 * - Writes are atomic (a temporary file renamed over the old one) and are
 *   read-modify-write under a lock file, so many clients share one file. A
 *   write gives up after 4 s rather than wait on a lock file someone keeps
 *   touching, and removes the temporary files a killed writer left behind.
 * - {@linkcode FileCache.prototype.lock} is a cross-process lock: processes
 *   that start cold make one token request between them, even while the
 *   endpoint makes the holder wait (429 with `Retry-After: 30`).
 * - A corrupt or foreign file is a miss and is replaced on the next write. An
 *   unusable location is reported once through `onError`; tokens are then
 *   fetched without caching.
 *
 * @example Two processes, one token
 * ```ts
 * import { createClient } from "@propq/auth";
 * import { FileCache } from "@propq/auth/file";
 * import { startTestServer } from "@propq/auth/testing";
 * import assert from "node:assert/strict";
 * import { mkdtemp, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const server = await startTestServer();
 * const dir = await mkdtemp(join(tmpdir(), "propq-auth-"));
 * const options = { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl };
 * const path = join(dir, "tokens.json");
 *
 * const first = await createClient({ ...options, cache: new FileCache(path) }).getToken();
 * // A new FileCache on the same file stands in for another process.
 * const second = await createClient({ ...options, cache: new FileCache(path) }).getToken();
 * assert.equal(second, first);
 * assert.equal(server.tokenRequests, 1);
 *
 * await server.close();
 * await rm(dir, { recursive: true });
 * ```
 */
export class FileCache implements TokenCache {
  /** The token file. Delete it to clear the cache. */
  readonly path: string;
  readonly #lockOptions: LockOptions;
  readonly #onError: (error: Error) => void;
  #reported = false;
  #directoryChecked = process.platform === "win32"; // modes say nothing about other users there

  /**
   * Creates a cache on the file at `path`. Nothing is read or written until
   * the cache is used.
   *
   * @param path The token file. Default: `propq-auth/tokens.json` in the
   * user's cache directory: `$XDG_CACHE_HOME` when set, else `~/.cache` on
   * Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows.
   * @param options Error reporting and lock timing.
   * @throws {TypeError} When `path` is not a non-empty string or `onError` is
   * not a function.
   * @throws {RangeError} When `staleLockMs` or `lockTimeoutMs` is not a
   * positive number of ms a timer can wait (up to 2^31 - 1).
   * @throws {Error} On Deno without `--allow-env`, when no `path` is given:
   * the default path is read from the environment (`XDG_CACHE_HOME`, `HOME`,
   * `LOCALAPPDATA`).
   *
   * @example Reporting an unusable location
   * ```ts
   * import { FileCache } from "@propq/auth/file";
   * import assert from "node:assert/strict";
   * import { mkdtemp, rm, writeFile } from "node:fs/promises";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   *
   * const dir = await mkdtemp(join(tmpdir(), "propq-auth-"));
   * await writeFile(join(dir, "a-file"), "");
   * const errors: Error[] = [];
   * const cache = new FileCache(join(dir, "a-file", "tokens.json"), { onError: (error) => errors.push(error) });
   *
   * await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + 60_000 });
   * assert.equal(await cache.get("k"), undefined);
   * assert.equal(errors.length, 1); // reported once, however often it fails
   *
   * await rm(dir, { recursive: true });
   * ```
   */
  constructor(path?: string, options: FileCacheOptions = {}) {
    if (path !== undefined && (typeof path !== "string" || path === "")) {
      throw new TypeError("Cannot create FileCache: path must be a non-empty string");
    }
    const { onError = warn } = options;
    if (typeof onError !== "function") throw new TypeError("Cannot create FileCache: onError must be a function");
    const staleMs = positiveMs("FileCache", "staleLockMs", options.staleLockMs, DEFAULT_STALE_LOCK_MS);
    const timeoutMs = positiveMs(
      "FileCache",
      "lockTimeoutMs",
      options.lockTimeoutMs,
      Math.max(DEFAULT_LOCK_TIMEOUT_MS, 2 * staleMs),
    );
    this.path = path ?? join(userCacheDir(process.platform, process.env, homedir), "propq-auth", "tokens.json");
    this.#lockOptions = { staleMs, timeoutMs };
    this.#onError = onError;
  }

  /**
   * Returns the token stored under `key`. Reads take no lock: writes replace
   * the file atomically.
   *
   * @param key The cache key.
   * @returns The token; `undefined` when absent, expired, or when the file is
   * missing, corrupt or unreadable, a symlink, a FIFO or larger than 1 MiB (all
   * but the first two reported through `onError`).
   * @throws Never: file faults are a miss.
   */
  async get(key: string): Promise<CachedToken | undefined> {
    await this.#checkDirectory();
    const token = (await this.#read())?.get(key);
    return token !== undefined && token.expiresAt > Date.now() ? token : undefined;
  }

  /**
   * Stores `token` under `key`, keeping the other keys of the file and
   * dropping their expired tokens. Only `accessToken`, `expiresAt` and
   * `issuedAt` are written.
   *
   * @param key The cache key.
   * @param token The token to keep.
   * @returns Resolves once the file is replaced, or once a failure is reported
   * through `onError`: within about 4 s when another writer's lock stays.
   * @throws {TypeError} When `token` has no non-empty `accessToken` or no
   * finite `expiresAt`.
   */
  set(key: string, token: CachedToken): Promise<void> {
    const stored = cachedTokenFrom(token);
    if (stored === undefined) {
      return Promise.reject(new TypeError("Cannot store token: it needs an accessToken and a finite expiresAt"));
    }
    return this.#update((tokens) => {
      tokens.set(key, stored);
      return true;
    });
  }

  /**
   * Removes the token stored under `key`, if any.
   *
   * @param key The cache key.
   * @returns Resolves once the file is replaced (or had no such key), or once
   * a failure is reported through `onError`: within about 4 s when another
   * writer's lock stays.
   * @throws Never: file faults are reported through `onError`.
   */
  delete(key: string): Promise<void> {
    return this.#update((tokens) => tokens.delete(key));
  }

  /**
   * Takes the cross-process lock of `key`: a lock file next to the token file,
   * created exclusively. The client holds it while it fetches a token, and
   * re-reads the file once it has it, so processes that start cold make one
   * token request between them. The holder refreshes the lock file while it
   * works, and waiters keep waiting while it does, up to `lockTimeoutMs`; a
   * lock nobody refreshed for `staleLockMs` (its holder crashed) is taken
   * over.
   *
   * @param key The cache key.
   * @returns The function that releases the lock. When the lock cannot be
   * taken (timeout, unusable location, a lock path that is not a small regular
   * file) it still resolves, with a release that does nothing, after reporting
   * through `onError`.
   * @throws Never: the caller goes on without the lock instead.
   *
   * @example One holder at a time
   * ```ts
   * import { FileCache } from "@propq/auth/file";
   * import assert from "node:assert/strict";
   * import { mkdtemp, rm } from "node:fs/promises";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   *
   * const dir = await mkdtemp(join(tmpdir(), "propq-auth-"));
   * const cache = new FileCache(join(dir, "tokens.json"));
   * const order: string[] = [];
   *
   * const release = await cache.lock("k");
   * const second = cache.lock("k").then((release) => {
   *   order.push("second holds it");
   *   return release();
   * });
   * order.push("first releases");
   * await release();
   * await second;
   * assert.deepEqual(order, ["first releases", "second holds it"]);
   *
   * await rm(dir, { recursive: true });
   * ```
   */
  async lock(key: string): Promise<() => Promise<void>> {
    await this.#checkDirectory();
    const name = createHash("sha256").update(key).digest("hex").slice(0, 16);
    return await this.#acquire(`${this.path}.${name}.lock`, this.#lockOptions) ?? (() => Promise.resolve());
  }

  /** The file's tokens; `undefined` when it cannot be read (reported). */
  async #read(): Promise<Tokens | undefined> {
    try {
      return parse((await readRegularFile(this.path, MAX_FILE_BYTES))?.text);
    } catch (error) {
      this.#report(`read ${this.path}`, error);
      return undefined;
    }
  }

  /** Read-modify-write under the file's lock; `change` tells whether to write. */
  async #update(change: (tokens: Tokens) => boolean): Promise<void> {
    await this.#checkDirectory();
    const release = await this.#acquire(`${this.path}.lock`, WRITE_LOCK);
    if (release === undefined) return;
    try {
      // Housekeeping: what it cannot remove must not cost the write.
      await removeStaleTemps(this.path, STALE_TEMP_MS).catch(() => {});
      // A file that exists but cannot be read is not overwritten: it may hold other keys.
      const tokens = await this.#read();
      if (tokens === undefined || !change(tokens)) return;
      await writeAtomic(this.path, serialize(tokens));
    } catch (error) {
      this.#report(`write ${this.path}`, error);
    } finally {
      await release();
    }
  }

  /** Takes the lock file at `path`; `undefined` when it cannot (reported). */
  async #acquire(path: string, options: LockOptions): Promise<Release | undefined> {
    let release: Release;
    try {
      release = await acquireLock(path, options);
    } catch (error) {
      this.#report(`lock ${path}`, error);
      return undefined;
    }
    return () => release().catch((error) => this.#report(`unlock ${path}`, error));
  }

  /** Warns once when other users can write to the directory: they could replace the file or hold its locks. */
  async #checkDirectory(): Promise<void> {
    if (this.#directoryChecked) return;
    const dir = dirname(this.path);
    const mode = await directoryMode(dir).catch(() => undefined); // unreadable: the operation itself reports it
    if (mode === undefined) return; // not there yet: it will be created at mode 0700
    this.#directoryChecked = true;
    if ((mode & 0o022) === 0) return;
    const octal = mode.toString(8).padStart(4, "0");
    this.#tell(
      `FileCache directory ${dir} is writable by other users (mode ${octal}): they could replace the token file ` +
        `or hold its locks. Use a directory only you can write to (chmod go-w, or a path of your own)`,
    );
  }

  #report(action: string, error: unknown): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#tell(
      `FileCache cannot ${action}: ${describe(error)}. Tokens are still fetched, but may not be shared`,
      error,
    );
  }

  #tell(message: string, cause?: unknown): void {
    try {
      this.#onError(new Error(message, cause === undefined ? undefined : { cause }));
    } catch {
      // A failing reporter must not turn a cache miss into a crash.
    }
  }
}

/**
 * What the clients of one cache and key share in a process: the newest token,
 * the pending token requests, the background refresh's schedule, and what
 * the token endpoint said when it refused.
 *
 * @module
 */

import { backoff, parseRetryAfter } from "./_retry.ts";
import { PropQAuthError } from "./errors.ts";
import type { CachedToken } from "./token_cache.ts";

// A server may ask for a long pause; past an hour it more likely misspoke.
const MAX_BLOCK_MS = 3_600_000;
// 401s cause at most one token request per key in this time: an API that
// rejects every token must not turn each call into a token request.
const UNAUTHORIZED_PAUSE_MS = 30_000;
// A failed background refresh is tried again after 1 s, 2 s, 4 s… up to a minute.
const REFRESH_RETRY_BASE_MS = 1_000;
const REFRESH_RETRY_CAP_MS = 60_000;

/** A refusal remembered: no token request for the key before `until`. */
interface Block {
  until: number;
  error: PropQAuthError;
}

/** A token replaced after the API answered 401 to it. */
interface Replacement {
  rejected: string;
  at: number;
  token: Promise<string>;
}

/** The shared state of one key. */
export class KeyState {
  /** The newest token any client of the key holds. */
  latest: CachedToken | undefined;
  /** Pending token requests by kind ("" plain, "\0" forced, "\n<token>" replacing that token). */
  readonly flights = new Map<string, Promise<CachedToken>>();
  /** Whether a background refresh runs. */
  refreshing = false;
  /** No background refresh before this time (epoch ms). */
  refreshRetryAt = 0;
  #refreshFailures = 0;
  /** The last replacement after a 401. */
  replacement: Replacement | undefined;
  #block: Block | undefined;
  readonly #background = new Set<Promise<unknown>>();

  /** Keeps `work` (a cache write, a refresh) until it settles, for {@linkcode KeyState.settled}. */
  track(work: Promise<unknown>): void {
    const done = work.then(() => {}, () => {});
    this.#background.add(done);
    void done.then(() => this.#background.delete(done));
  }

  /** Resolves once no tracked work is left, including work started meanwhile. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.all(this.#background);
  }

  /** The pending flight `id`, or the one `start` begins, shared until it settles. */
  flight(id: string, start: () => Promise<CachedToken>): Promise<CachedToken> {
    let flight = this.flights.get(id);
    if (flight === undefined) {
      flight = start().finally(() => this.flights.delete(id));
      this.flights.set(id, flight);
    }
    return flight;
  }

  /** A background refresh worked: the next one may run whenever due. */
  refreshed(): void {
    this.#refreshFailures = 0;
    this.refreshRetryAt = 0;
  }

  /** A background refresh failed: returns when to try again, with backoff (and after any block). */
  refreshFailed(now: number): number {
    const wait = backoff(this.#refreshFailures++, REFRESH_RETRY_BASE_MS, REFRESH_RETRY_CAP_MS);
    return this.refreshRetryAt = Math.max(now + wait, this.#block?.until ?? 0);
  }

  /**
   * After the API answered 401 to `rejected`: the replacement of that token
   * under way, `"pause"` when the key's token was replaced less than 30 s ago,
   * else `"replace"`.
   */
  unauthorized(rejected: string, now: number): Promise<string> | "pause" | "replace" {
    const last = this.replacement;
    if (last?.rejected === rejected) return last.token;
    return last !== undefined && now - last.at < UNAUTHORIZED_PAUSE_MS ? "pause" : "replace";
  }

  /** The error a call gets instead of a token request while the key is blocked, else `undefined`. */
  blocked(now: number): PropQAuthError | undefined {
    const block = this.#block;
    if (block === undefined || now >= block.until) return undefined;
    const { error } = block;
    return new PropQAuthError(
      `${error.message} (remembered: no new request before ${new Date(block.until).toISOString()}; ` +
        "forceRefresh asks at once)",
      {
        code: error.code,
        status: error.status,
        oauthError: error.oauthError,
        hint: error.hint,
        description: error.description,
      },
    );
  }

  /** A new token: any block is over. */
  succeeded(token: CachedToken): void {
    this.latest = token;
    this.#block = undefined;
  }

  /**
   * Remembers a failed request: refused credentials (400/401 with an OAuth
   * `error`) for `cooldownMs`, a 429's `Retry-After` for the time it names.
   */
  failed(error: unknown, now: number, cooldownMs: number): void {
    if (!(error instanceof PropQAuthError)) return;
    const { status, oauthError } = error;
    let pause = 0;
    if ((status === 400 || status === 401) && oauthError !== undefined) pause = cooldownMs;
    if (status === 429) pause = parseRetryAfter(error.response?.headers.get("retry-after") ?? null, now) ?? 0;
    if (pause > 0) this.#block = { until: now + Math.min(pause, MAX_BLOCK_MS), error };
  }
}

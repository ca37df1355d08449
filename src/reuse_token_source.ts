/**
 * Reuse: the token a client holds, the cache it shares, one token request per
 * key however many callers ask at once, and the token's life: refreshed in
 * the background before it ends, served while a refresh fails, never served
 * once too little of it is left.
 *
 * @module
 */

import { abortable } from "./_async.ts";
import { cacheKey } from "./_cache_key.ts";
import { CoarseClock } from "./_coarse_clock.ts";
import { failureEvent } from "./_emit.ts";
import type { Config } from "./_config.ts";
import { GuardedCache } from "./_guarded_cache.ts";
import { KeyState } from "./_key_state.ts";
import { sharedSlot } from "./_registry.ts";
import { type Held, infoOf, timingOf, type TokenTiming } from "./_token_timing.ts";
import type { TokenHandle } from "./auth_fetch.ts";
import type { GetTokenOptions, TokenInfo } from "./options.ts";
import type { CachedToken } from "./token_cache.ts";
import { requestToken } from "./token_source.ts";

/**
 * A flight's kind: `plain` takes a cached token while it is usable, `fresh`
 * (a background refresh) only one before its refresh window, `force` skips
 * the cache, `replace` avoids the token the API rejected.
 */
type Kind = "plain" | "fresh" | "force" | "replace";

/** The tokens of one client: the source, the cache and the copy it holds. */
export class ReuseTokenSource implements TokenHandle {
  readonly #config: Config;
  readonly #clock: { now(): number; reset(): void };
  readonly #cache: GuardedCache;
  #key: Promise<string> | undefined;
  #state: KeyState | undefined;
  #held: Held | undefined;

  constructor(config: Config) {
    this.#config = config;
    this.#clock = config.realClock ? new CoarseClock(config.now) : { now: config.now, reset() {} };
    this.#cache = new GuardedCache(config);
  }

  /** The hot path: a held token with life left is returned without awaiting anything else. */
  get(options?: GetTokenOptions): Promise<string> {
    const held = this.#held;
    // A caller's signal (client.fetch passes the request's) does not leave the hot path; an aborted one does.
    if (held !== undefined && options?.forceRefresh !== true && options?.signal?.aborted !== true) {
      const now = this.#clock.now();
      if (now < held.refreshAt) return held.answer;
      if (now < held.usableUntil) {
        this.#refreshAhead();
        return held.answer;
      }
    }
    return this.info(options).then((info) => info.accessToken);
  }

  /** The token `get` answers, with its expiry and refresh time. */
  async info(options?: GetTokenOptions): Promise<TokenInfo> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    const force = options?.forceRefresh === true;
    const state = this.#state ?? await this.#stateFor();
    if (!force) {
      const now = this.#config.now();
      const held = this.#usable(state, now);
      if (held !== undefined) {
        if (now >= held.refreshAt) this.#refreshAhead();
        return infoOf(held);
      }
      const blocked = state.blocked(now);
      if (blocked !== undefined) throw blocked;
    }
    const held = this.#hold(await abortable(this.#flight(state, force ? "force" : "plain"), signal));
    if (this.#config.now() >= held.refreshAt) this.#refreshAhead();
    return infoOf(held);
  }

  async replace(rejected: string, signal?: AbortSignal): Promise<string | undefined> {
    const state = this.#state ?? await this.#stateFor();
    const now = this.#config.now();
    const decision = state.unauthorized(rejected, now);
    if (typeof decision !== "string") {
      // Being replaced already, maybe by another client of the key: hold its result too.
      const token = await abortable(decision, signal);
      if (state.latest?.accessToken === token) this.#hold(state.latest);
      return token;
    }
    const held = this.#held;
    if (held !== undefined && held.token.accessToken !== rejected && now < held.usableUntil) {
      return held.token.accessToken; // the caller used an older token
    }
    const retried = decision === "replace";
    this.#config.emit?.({ type: "unauthorized", clientId: this.#config.clientId, retried });
    if (!retried) return undefined;
    this.#held = undefined;
    if (state.latest?.accessToken === rejected) state.latest = undefined;
    const token = this.#flight(state, "replace", rejected).then((token) => this.#hold(token).token.accessToken);
    state.replacement = { rejected, at: now, token };
    return abortable(token, signal);
  }

  /** Resolves once the key's background work (cache writes, lock releases, a refresh) is done. */
  async settled(): Promise<void> {
    await (this.#state ?? await this.#stateFor()).settled();
  }

  /** Drops the held and the cached token. */
  async invalidate(): Promise<void> {
    this.#held = undefined;
    const state = this.#state ?? await this.#stateFor();
    state.latest = undefined;
    await this.#cache.delete(await this.key());
  }

  /** The cache key: token URL, client id and a fingerprint of the secret. */
  key(): Promise<string> {
    const { tokenUrl, clientId, clientSecret } = this.#config;
    return this.#key ??= cacheKey(tokenUrl, clientId, clientSecret);
  }

  async #stateFor(): Promise<KeyState> {
    const key = await this.key();
    return this.#state ??= sharedSlot(this.#config.cache, key, () => new KeyState());
  }

  #timing(token: CachedToken): TokenTiming {
    return timingOf(token, this.#config.refreshWindowMs, this.#config.minValidityMs);
  }

  #hold(token: CachedToken): Held {
    if (this.#held?.token === token) return this.#held;
    this.#clock.reset();
    return this.#held = { token, ...this.#timing(token), answer: Promise.resolve(token.accessToken) };
  }

  /** The held token, or a newer one another client of the key obtained, while usable. */
  #usable(state: KeyState, now: number): Held | undefined {
    const latest = state.latest;
    if (latest !== undefined && latest !== this.#held?.token && now < this.#timing(latest).usableUntil) {
      if (this.#held === undefined || latest.expiresAt > this.#held.token.expiresAt) this.#hold(latest);
    }
    const held = this.#held;
    return held !== undefined && now < held.usableUntil ? held : undefined;
  }

  /** The key's pending flight of this kind, or a new one. */
  #flight(state: KeyState, kind: Kind, rejected?: string): Promise<CachedToken> {
    // Tokens are visible ASCII, so neither separator can occur inside one.
    const id = kind === "force" ? "\0" : kind === "replace" ? `\n${rejected}` : "";
    return state.flight(id, () => this.#fly(state, kind, rejected));
  }

  async #fly(state: KeyState, kind: Kind, rejected: string | undefined): Promise<CachedToken> {
    const key = await this.key();
    const acceptable = (token: CachedToken | undefined): token is CachedToken => {
      if (token === undefined || token.accessToken === rejected) return false;
      const { refreshAt, usableUntil } = this.#timing(token);
      return this.#config.now() < (kind === "fresh" ? refreshAt : usableUntil);
    };
    if (kind !== "force") {
      const cached = await this.#read(key, rejected);
      if (acceptable(cached)) return cached;
      const blocked = state.blocked(this.#config.now());
      if (blocked !== undefined) throw blocked;
    }
    const release = await this.#cache.lock(key);
    let token: CachedToken | undefined;
    try {
      if (release !== undefined && kind !== "force") {
        // Another process may have fetched while we waited for the lock.
        const cached = await this.#read(key, rejected);
        if (acceptable(cached)) return cached;
      }
      token = await this.#request(state, kind === "fresh");
    } finally {
      if (token === undefined && release !== undefined) state.track(release());
    }
    // Callers get the token now; the lock is released once the cache holds it.
    state.track(this.#cache.set(key, token).then(release));
    return token;
  }

  async #read(key: string, rejected: string | undefined): Promise<CachedToken | undefined> {
    const cached = await this.#cache.get(key);
    if (cached === undefined || cached.accessToken !== rejected) return cached;
    await this.#cache.delete(key); // still the rejected one: nobody replaced it yet
    return undefined;
  }

  async #request(state: KeyState, background: boolean): Promise<CachedToken> {
    const { emit, clientId } = this.#config;
    const started = performance.now();
    try {
      const token = await requestToken(this.#config);
      state.succeeded(token);
      emit?.({
        type: "token",
        clientId,
        expiresAt: token.expiresAt,
        durationMs: performance.now() - started,
        background,
      });
      return token;
    } catch (error) {
      state.failed(error, this.#config.now(), this.#config.failureCooldownMs);
      throw error;
    }
  }

  /** Starts the key's one background refresh, unless one runs, or failed too recently. */
  #refreshAhead(): void {
    const state = this.#state;
    const held = this.#held;
    if (state === undefined || held === undefined) return;
    const now = this.#config.now();
    if (state.refreshing || state.flights.has("") || now < state.refreshRetryAt) return;
    const latest = state.latest;
    if (latest !== undefined && latest !== held.token && now < this.#timing(latest).refreshAt) {
      this.#hold(latest); // another client of the key refreshed it already
      return;
    }
    state.refreshing = true;
    const refresh = this.#flight(state, "fresh").then(
      (token) => {
        state.refreshed();
        if (token.expiresAt >= (this.#held?.token.expiresAt ?? 0)) this.#hold(token);
      },
      (error: unknown) => {
        const retryAt = state.refreshFailed(this.#config.now());
        this.#config.emit?.(failureEvent("refresh_failed", this.#config.clientId, error, {
          expiresAt: held.token.expiresAt,
          retryAt,
        }));
      },
    ).finally(() => state.refreshing = false);
    state.track(refresh);
  }
}

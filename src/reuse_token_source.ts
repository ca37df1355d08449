/**
 * Reuse: the token a client holds, the cache it shares, one token request per
 * key however many callers ask at once, and when to ask for a new one.
 *
 * @module
 */

import { abortable } from "./_async.ts";
import { cacheKey } from "./_cache_key.ts";
import { cachedTokenFrom } from "./_cached_token.ts";
import { CoarseClock } from "./_coarse_clock.ts";
import type { Config } from "./_config.ts";
import { sharedSlot } from "./_registry.ts";
import type { GetTokenOptions, TokenInfo } from "./options.ts";
import type { CachedToken } from "./token_cache.ts";
import { requestToken } from "./token_source.ts";

/** What the transport needs of a token source: a token, and a new one when the API rejects it. */
export interface TokenHandle {
  /** A valid token: the held one, or a new one. */
  get(options?: GetTokenOptions): Promise<string>;
  /** After the API rejected `rejected`: a different token, fetched only if nobody has one yet. */
  replace(rejected: string, signal?: AbortSignal): Promise<string>;
}

/** A token with the moment this client should stop using it. */
interface Held {
  token: CachedToken;
  refreshAt: number;
  answer: Promise<string>;
}

/** Skip the cache: a token the caller asked to replace whatever is stored. */
const FORCE = Symbol("force");
type Avoid = string | typeof FORCE | undefined;

/** What the clients of one cache and key share: their pending token requests. */
interface Slot {
  flights: Map<string, Promise<CachedToken>>;
}

/** Runs a cache operation whose failure (a rejection, or a throw) only costs a miss. */
async function quietly(operation: () => unknown): Promise<void> {
  try {
    await operation();
  } catch {
    // A failing cache makes the client fetch more often, never fail.
  }
}

/** The tokens of one client: the source, the cache and the copy it holds. */
export class ReuseTokenSource implements TokenHandle {
  readonly #config: Config;
  readonly #now: () => number;
  #key: Promise<string> | undefined;
  #slot: Slot | undefined;
  #held: Held | undefined;

  constructor(config: Config) {
    this.#config = config;
    if (config.realClock) {
      const clock = new CoarseClock(config.now);
      this.#now = () => clock.now();
    } else {
      this.#now = config.now;
    }
  }

  /** The hot path: a held token with life left is returned without awaiting anything else. */
  get(options?: GetTokenOptions): Promise<string> {
    const held = this.#held;
    if (
      held !== undefined && options?.forceRefresh !== true && options?.signal?.aborted !== true &&
      this.#now() < held.refreshAt
    ) {
      return held.answer;
    }
    return this.#obtain(options?.forceRefresh === true ? FORCE : undefined, options?.signal);
  }

  /** The token `get` answers, with its expiry and refresh time. */
  async info(options?: GetTokenOptions): Promise<TokenInfo> {
    const accessToken = await this.get(options);
    const held = this.#held;
    if (held?.token.accessToken === accessToken) {
      return { accessToken, expiresAt: held.token.expiresAt, refreshAt: held.refreshAt };
    }
    return this.info(options); // replaced meanwhile: ask again
  }

  replace(rejected: string, signal?: AbortSignal): Promise<string> {
    const held = this.#held;
    if (held !== undefined && held.token.accessToken !== rejected && this.#config.now() < held.refreshAt) {
      return Promise.resolve(held.token.accessToken); // another caller already replaced it
    }
    this.#hold(undefined);
    return this.#obtain(rejected, signal);
  }

  /** Drops the held and the cached token. */
  async invalidate(): Promise<void> {
    this.#hold(undefined);
    const key = await this.key();
    await quietly(() => this.#config.cache.delete(key));
  }

  /** The cache key: token URL, client id and a fingerprint of the secret. */
  key(): Promise<string> {
    const { tokenUrl, clientId, clientSecret } = this.#config;
    return this.#key ??= cacheKey(tokenUrl, clientId, clientSecret);
  }

  #hold(token: CachedToken | undefined): void {
    this.#held = token && { token, refreshAt: this.#refreshAt(token), answer: Promise.resolve(token.accessToken) };
  }

  /**
   * `avoid` is {@linkcode FORCE} to skip the cache, or a token the API
   * rejected that must not be served again; concurrent callers with the same
   * `avoid` share one flight.
   */
  async #obtain(avoid: Avoid, signal: AbortSignal | undefined): Promise<string> {
    signal?.throwIfAborted();
    const key = await this.key();
    const { flights } = this.#slot ??= sharedSlot<Slot>(this.#config.cache, key, () => ({ flights: new Map() }));
    // Tokens are visible ASCII, so neither separator can occur inside one.
    const flightKey = avoid === undefined ? "" : avoid === FORCE ? "\0" : `\n${avoid}`;
    let flight = flights.get(flightKey);
    if (flight === undefined) {
      flight = this.#fly(key, avoid).finally(() => flights.delete(flightKey));
      flights.set(flightKey, flight);
    }
    const token = await abortable(flight, signal);
    if (this.#held?.token !== token) this.#hold(token);
    return token.accessToken;
  }

  async #fly(key: string, avoid: Avoid): Promise<CachedToken> {
    const force = avoid === FORCE;
    if (!force) {
      const cached = await this.#read(key, avoid);
      if (cached !== undefined) return cached;
    }
    const release = await this.#lock(key);
    try {
      if (release !== undefined && !force) {
        // Another process may have fetched while we waited for the lock.
        const cached = await this.#read(key, avoid);
        if (cached !== undefined) return cached;
      }
      const token = await requestToken(this.#config);
      await quietly(() => this.#config.cache.set(key, token));
      return token;
    } finally {
      if (release !== undefined) await quietly(release);
    }
  }

  async #read(key: string, avoid: Avoid): Promise<CachedToken | undefined> {
    let cached: CachedToken | undefined;
    try {
      cached = cachedTokenFrom(await this.#config.cache.get(key));
    } catch {
      return undefined;
    }
    if (cached === undefined) return undefined;
    if (cached.accessToken === avoid) {
      // Drop the rejected token only if it is still the one cached.
      await quietly(() => this.#config.cache.delete(key));
      return undefined;
    }
    return this.#config.now() < this.#refreshAt(cached) ? cached : undefined;
  }

  async #lock(key: string): Promise<(() => Promise<void>) | undefined> {
    const { cache } = this.#config;
    if (typeof cache.lock !== "function") return undefined;
    try {
      return await cache.lock(key);
    } catch {
      return undefined;
    }
  }

  /** Refresh when less than the window remains, the window capped at half the lifetime. */
  #refreshAt(token: CachedToken): number {
    const issuedAt = token.issuedAt;
    const lifetime = typeof issuedAt === "number" && issuedAt < token.expiresAt ? token.expiresAt - issuedAt : Infinity;
    return token.expiresAt - Math.min(this.#config.refreshWindowMs, lifetime / 2);
  }
}

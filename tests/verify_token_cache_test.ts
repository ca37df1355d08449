import { test } from "node:test";
import assert from "node:assert/strict";
import type { CachedToken, TokenCache } from "@propq/auth";
import { verifyTokenCache, type VerifyTokenCacheOptions } from "@propq/auth/testing";
import { LOCK_CHECKS, STORAGE_CHECKS } from "./_cache_checks.ts";

const STORAGE = STORAGE_CHECKS;
const LOCKS = LOCK_CHECKS;
const LEASE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Lease {
  owner: object;
  until: number;
}

/**
 * A correct cache, one store shared by every handle: JSON in a Map, and leases that expire
 * unless their live holder renews them. The broken caches below each change one thing.
 */
class ReferenceCache implements TokenCache {
  constructor(
    readonly store: Map<string, string>,
    readonly leases: Map<string, Lease>,
    readonly run = { over: false },
  ) {}

  get(key: string): Promise<CachedToken | undefined> {
    let token: CachedToken | undefined;
    try {
      token = JSON.parse(this.store.get(key) ?? "null") ?? undefined;
    } catch {
      return Promise.resolve(undefined); // a corrupt entry is a miss
    }
    return Promise.resolve(token !== undefined && token.expiresAt > Date.now() ? token : undefined);
  }

  set(key: string, token: CachedToken): Promise<void> {
    const { accessToken, expiresAt } = token ?? {};
    if (typeof accessToken !== "string" || !/^[\x21-\x7e]+$/.test(accessToken) || !Number.isFinite(expiresAt)) {
      return Promise.reject(new TypeError("not a token"));
    }
    this.store.set(key, JSON.stringify({ accessToken, expiresAt }));
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.store.delete(key);
    return Promise.resolve();
  }

  /** Whether `lease` keeps others out. */
  blocks(lease: Lease | undefined): boolean {
    return lease !== undefined && lease.until > Date.now();
  }

  async lock(key: string): Promise<() => Promise<void>> {
    while (this.blocks(this.leases.get(key))) {
      // A waiter the suite gave up on (a lease that never lapses) must not poll forever.
      if (this.run.over) throw new Error("the test is over");
      await sleep(10);
    }
    const lease = { owner: {}, until: Date.now() + LEASE_MS };
    this.leases.set(key, lease);
    const renew = setInterval(() => lease.until = Date.now() + LEASE_MS, LEASE_MS / 3);
    return () => {
      clearInterval(renew);
      this.unlock(key, lease);
      return Promise.resolve();
    };
  }

  unlock(key: string, lease: Lease): void {
    if (this.leases.get(key) === lease) this.leases.delete(key);
  }
}

/** A store, a way to make handles on it, and the hooks only a test that owns the store can offer. */
function storeFor(Cache: typeof ReferenceCache) {
  const store = new Map<string, string>();
  const leases = new Map<string, Lease>();
  const options: VerifyTokenCacheOptions = {
    // A holder that took the lease and died: nobody renews it.
    abandonLock: (key) => Promise.resolve(void leases.set(key, { owner: {}, until: Date.now() + LEASE_MS })),
    corrupt: (key) => Promise.resolve(void store.set(key, "{not json")),
    takeoverMs: 1_500,
    timeoutMs: 3_000,
  };
  const run = { over: false };
  const end = () => void (run.over = true);
  return { store, leases, make: () => new Cache(store, leases, run), options, end };
}

const broken: [string, typeof ReferenceCache, string[]][] = [
  [
    "serves expired tokens",
    class extends ReferenceCache {
      override get(key: string) {
        try {
          return Promise.resolve(JSON.parse(this.store.get(key) ?? "null") ?? undefined);
        } catch {
          return Promise.resolve(undefined);
        }
      }
    },
    ["expired entries never served"],
  ],
  [
    "folds keys to lower case",
    class extends ReferenceCache {
      override get(key: string) {
        return super.get(key.toLowerCase());
      }
      override set(key: string, token: CachedToken) {
        return super.set(key.toLowerCase(), token);
      }
    },
    ["keys kept apart"],
  ],
  [
    "keeps the first token of a key",
    class extends ReferenceCache {
      override set(key: string, token: CachedToken) {
        return this.store.has(key) ? Promise.resolve() : super.set(key, token);
      }
    },
    ["replace", "expired entries never served", "garbage tolerated"], // nor does it replace a corrupt entry
  ],
  [
    "deletes every key",
    class extends ReferenceCache {
      override delete() {
        this.store.clear();
        return Promise.resolve();
      }
    },
    ["delete removes only its key"],
  ],
  [
    "stores whatever it is given",
    class extends ReferenceCache {
      override set(key: string, token: CachedToken) {
        this.store.set(key, JSON.stringify(token));
        return Promise.resolve();
      }
    },
    ["garbage tolerated"],
  ],
  [
    "throws on a value it cannot parse",
    class extends ReferenceCache {
      override get(key: string) {
        const value = this.store.get(key);
        if (value !== undefined) JSON.parse(value); // a corrupt entry becomes a rejection, not a miss
        return super.get(key);
      }
    },
    ["garbage tolerated"],
  ],
  [
    "rejects every get",
    class extends ReferenceCache {
      override get(): Promise<undefined> {
        return Promise.reject(new Error("store unreachable"));
      }
    },
    STORAGE,
  ],
  [
    "grants every lock at once",
    class extends ReferenceCache {
      override lock() {
        return Promise.resolve(() => Promise.resolve());
      }
    },
    LOCKS,
  ],
  [
    "lets any release free the lock",
    class extends ReferenceCache {
      override unlock(key: string) {
        this.leases.delete(key);
      }
    },
    ["lock: release by the owner only"],
  ],
  [
    "never lets a dead holder's lease lapse",
    class extends ReferenceCache {
      override blocks(lease: Lease | undefined) {
        return lease !== undefined;
      }
    },
    ["lock: takeover after the holder dies"],
  ],
  [
    "hangs in lock()",
    class extends ReferenceCache {
      override lock() {
        return new Promise<never>(() => {});
      }
    },
    LOCKS,
  ],
];

test("verifyTokenCache() resolves with the name of every check that ran", async (t) => {
  await t.test("all of them for a cache with a lock, given abandonLock", async () => {
    const { make, options, store, leases } = storeFor(ReferenceCache);
    assert.deepEqual(await verifyTokenCache(make, options), [...STORAGE, ...LOCKS]);
    assert.equal(store.size, 0, "it deletes every key it wrote");
    await sleep(LEASE_MS);
    assert.ok([...leases.values()].every((lease) => lease.until < Date.now()), "no lease left held");
  });

  await t.test("not the takeover check without abandonLock: the suite cannot kill a holder", async () => {
    const { make } = storeFor(ReferenceCache);
    assert.deepEqual(await verifyTokenCache(make), [...STORAGE, ...LOCKS.slice(0, 2)]);
  });

  await t.test("no lock check for a cache without lock()", async () => {
    const { store } = storeFor(ReferenceCache);
    const cache = new ReferenceCache(store, new Map());
    const noLock: TokenCache = {
      get: (key) => cache.get(key),
      set: (key, token) => cache.set(key, token),
      delete: (key) => cache.delete(key),
    };
    assert.deepEqual(await verifyTokenCache(async () => await Promise.resolve(noLock)), STORAGE);
  });
});

test("verifyTokenCache() rejects a cache that breaks the contract, listing exactly the checks it fails", async (t) => {
  for (const [label, Cache, failing] of broken) {
    await t.test(`a cache that ${label}`, async () => {
      const { make, options, end } = storeFor(Cache);
      const started = Date.now();
      const error = await verifyTokenCache(make, options).then(
        () => assert.fail("resolved"),
        (error: unknown) => error,
      ).finally(end);
      assert.ok(error instanceof AggregateError);
      const errors = error.errors as (Error & { check: string })[];
      assert.deepEqual(errors.map((failure) => failure.check), failing);
      const ran = STORAGE.length + LOCKS.length;
      assert.equal(error.message.split("\n")[0], `TokenCache failed ${failing.length} of ${ran} checks:`);
      for (const failure of errors) {
        assert.ok(error.message.includes(`\n- ${failure.message}`), "the message lists every failure with its reason");
        assert.ok(failure.message.length > failure.check.length + 10, `a reason is given: ${failure.message}`);
        assert.ok(failure.cause instanceof Error);
      }
      assert.ok(Date.now() - started < 60_000, "a hanging cache fails its checks; it does not hang the suite");
    });
  }
});

test("verifyTokenCache() names what it is handed wrong", async () => {
  const { make } = storeFor(ReferenceCache);
  await assert.rejects(verifyTokenCache(undefined as never), { name: "TypeError", message: /make/ });
  await assert.rejects(verifyTokenCache(() => ({}) as TokenCache), { name: "TypeError", message: /TokenCache/ });
  await assert.rejects(verifyTokenCache(() => Promise.reject(new Error("cannot connect"))), /cannot connect/);
  await assert.rejects(verifyTokenCache(make, null as never), { name: "TypeError", message: /options/ });
  await assert.rejects(verifyTokenCache(make, { abandonLock: "yes" as never }), {
    name: "TypeError",
    message: /abandonLock/,
  });
  await assert.rejects(verifyTokenCache(make, { takeoverMs: 0 }), { name: "RangeError", message: /takeoverMs/ });
  await assert.rejects(verifyTokenCache(make, { timeoutMs: Number.NaN }), { name: "RangeError", message: /timeoutMs/ });
});

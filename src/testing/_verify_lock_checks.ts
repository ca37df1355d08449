/**
 * The lock half of `verifyTokenCache`: what a TokenCache's optional `lock`
 * must do so that a fleet makes one token request.
 *
 * @module
 */

import type { TokenCache } from "../token_cache.ts";
import { BLOCKED_MS, type Check, type Context, expect, settlesWithin, sleep, within } from "./_verify_context.ts";

type Lock = NonNullable<TokenCache["lock"]>;

/** The `lock` of a handle from `make()` (checks run only when the first one had one). */
async function lockOf(context: Context): Promise<Lock> {
  const cache = await context.cache();
  expect(typeof cache.lock === "function", "a handle from make() has no lock() although the first one had");
  return (key) => cache.lock!(key);
}

/** Throws unless `waiting` stays pending while the lock is held. */
async function expectBlocked(waiting: Promise<unknown>, message: string): Promise<void> {
  expect(!await settlesWithin(waiting, BLOCKED_MS), message);
}

/** The lock checks, in the order they run. */
export const LOCK_CHECKS: Check[] = [
  {
    name: "lock: one holder at a time",
    lock: true,
    async run(context) {
      const { key, track } = context;
      const [a, b, c] = [await lockOf(context), await lockOf(context), await lockOf(context)];
      const k = key("one-holder");
      const release = await a(k);
      const waiting = track(b(k));
      try {
        await expectBlocked(waiting, "a second lock() of the key resolved while the first holder held it");
        const other = await within(c(key("one-holder:other")), 5_000, "lock() of another key");
        await other();
      } finally {
        await release();
      }
      await (await waiting)();
      await (await within(c(k), 5_000, "lock() of a key just released"))();

      const contenders = [a, b, c, await lockOf(context)];
      let holders = 0;
      let most = 0;
      await Promise.all(contenders.map(async (lock) => {
        const done = await lock(k);
        most = Math.max(most, ++holders);
        await sleep(50);
        holders--;
        await done();
      }));
      expect(most === 1, `${most} of 4 contenders held the lock of one key at the same time`);
    },
  },
  {
    name: "lock: release by the owner only",
    lock: true,
    async run(context) {
      const { key, track } = context;
      const [a, b, c] = [await lockOf(context), await lockOf(context), await lockOf(context)];
      const k = key("owner-only");
      const stale = await a(k);
      await stale();
      const release = await within(b(k), 5_000, "lock() of a released key");
      try {
        await stale().catch(() => {}); // the previous holder's release, called again: refusing is fine
        const waiting = track(c(k));
        await expectBlocked(waiting, "a previous holder's release, called again, freed the current holder's lock");
      } finally {
        await release();
      }
    },
  },
  {
    name: "lock: takeover after the holder dies",
    lock: true,
    needs: (options) => options.abandonLock !== undefined,
    async run(context) {
      const { key, track, options } = context;
      const k = key("takeover");
      await options.abandonLock!(k);
      const lock = await lockOf(context);
      const what = `lock() of a key whose holder died (takeoverMs ${options.takeoverMs})`;
      const release = await within(lock(k), options.takeoverMs, what);
      try {
        const waiting = track((await lockOf(context))(k));
        await expectBlocked(waiting, "the lock taken over did not hold: the next lock() resolved at once");
      } finally {
        await release();
      }
    },
  },
];

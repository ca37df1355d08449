/**
 * The storage half of `verifyTokenCache`: what every TokenCache must do with
 * `get`, `set` and `delete`.
 *
 * @module
 */

import type { CachedToken } from "../token_cache.ts";
import { type Check, expect, expectToken, isLiveToken, messageOf, show, sleep, tokenFor } from "./_verify_context.ts";

/** Keys as odd as real ones get: URLs, colons, case, glob and path characters, Unicode, length. */
const ODD_KEYS = [
  "propq-auth:v1:https://api.propq.com/oauth/token:42:0123456789abcdef0123456789abcdef",
  "propq-auth:v1:https://api.propq.com/oauth/token:43:0123456789abcdef0123456789abcdef",
  "a",
  "A",
  "a:b",
  "a*",
  "a?[b]",
  "k/ü/🔑 with spaces",
  `quote" apostrophe' backslash\\`,
  "%2F../..",
  "x".repeat(240),
];

/** What `set` may be handed by a buggy caller or read back from a tampered store. */
function malformed(): [string, unknown][] {
  const later = Date.now() + 3_600_000;
  return [
    ["an empty accessToken", { accessToken: "", expiresAt: later }],
    ["a number as accessToken", { accessToken: 42, expiresAt: later }],
    ["an accessToken with a line break", { accessToken: "verify\r\nX-Injected: 1", expiresAt: later }],
    ["a string expiresAt", { accessToken: "verify.garbage", expiresAt: "tomorrow" }],
    ["a NaN expiresAt", { accessToken: "verify.garbage", expiresAt: Number.NaN }],
    ["null", null],
    ["a string", "verify.garbage"],
  ];
}

/** The storage checks, in the order they run. */
export const STORAGE_CHECKS: Check[] = [
  {
    name: "round trip",
    async run({ cache, key }) {
      const [a, b] = [await cache(), await cache()];
      const k = key("round-trip");
      const missing = await a.get(k);
      expect(missing === undefined, `get() of a key never set returned ${show(missing)}`);
      const token = tokenFor("round-trip");
      await a.set(k, token);
      await expectToken(a, k, token, "get() after set()");
      await expectToken(b, k, token, "get() through another handle from make()");
    },
  },
  {
    name: "keys kept apart",
    async run({ cache, key }) {
      const [a, b] = [await cache(), await cache()];
      const keys = ODD_KEYS.map((odd) => key(`keys:${odd}`));
      const tokens = keys.map((_, i) => tokenFor(`key-${i}`));
      for (const [i, k] of keys.entries()) await a.set(k, tokens[i]);
      for (const [i, k] of keys.entries()) await expectToken(b, k, tokens[i], `get(${show(ODD_KEYS[i])})`);
    },
  },
  {
    name: "replace",
    async run({ cache, key }) {
      const [a, b] = [await cache(), await cache()];
      const k = key("replace");
      const newer = tokenFor("newer");
      await a.set(k, tokenFor("older"));
      await b.set(k, newer);
      await expectToken(a, k, newer, "get() after a second set()");
    },
  },
  {
    name: "expired entries never served",
    async run({ cache, key }) {
      const [a, b] = [await cache(), await cache()];
      const expired = key("expired");
      await a.set(expired, tokenFor("expired", -1_000)).catch(() => {}); // refusing it is fine too
      const read = await a.get(expired);
      expect(read === undefined, `get() served a token that expired before it was stored: ${show(read)}`);

      const replaced = key("replaced-by-expired");
      await a.set(replaced, tokenFor("live"));
      let stored = true;
      await a.set(replaced, tokenFor("expired", -1_000)).catch(() => stored = false);
      const after = await a.get(replaced);
      expect(!stored || after === undefined, `get() after set() of an expired token served ${show(after)}`);

      const short = key("expiring");
      const token = tokenFor("expiring", 1_000);
      await a.set(short, token);
      await sleep(Math.max(0, token.expiresAt - Date.now()) + 50);
      for (const handle of [a, b]) {
        const late = await handle.get(short);
        expect(late === undefined, `get() served a token past its expiresAt: ${show(late)}`);
      }
    },
  },
  {
    name: "delete removes only its key",
    async run({ cache, key }) {
      const [a, b] = [await cache(), await cache()];
      const [gone, kept] = [key("delete:gone"), key("delete:kept")];
      const keptToken = tokenFor("kept");
      await a.set(gone, tokenFor("gone"));
      await a.set(kept, keptToken);
      await b.delete(gone);
      await a.delete(key("delete:never-set"));
      for (const handle of [a, b]) {
        const read = await handle.get(gone);
        expect(read === undefined, `get() of a deleted key returned ${show(read)}`);
      }
      await expectToken(a, kept, keptToken, "get() of the key next to a deleted one");
    },
  },
  {
    name: "garbage tolerated",
    async run({ cache, key, options }) {
      const a = await cache();
      const problems: string[] = [];
      for (const [i, [label, value]] of malformed().entries()) {
        const k = key(`garbage:${i}`);
        try {
          await a.set(k, value as CachedToken);
        } catch {
          // Refusing it is the best answer.
        }
        try {
          const read = await a.get(k);
          if (read !== undefined && !isLiveToken(read)) {
            problems.push(`set() of ${label}, then get() returned ${show(read)}`);
          }
        } catch (error) {
          problems.push(`set() of ${label}, then get() rejected: ${messageOf(error)}`);
        }
      }
      if (options.corrupt !== undefined) {
        const k = key("garbage:corrupt");
        await options.corrupt(k);
        try {
          const read = await a.get(k);
          if (read !== undefined) problems.push(`get() of a corrupt entry returned ${show(read)}`);
        } catch (error) {
          problems.push(`get() of a corrupt entry rejected: ${messageOf(error)}`);
        }
        const token = tokenFor("after-corrupt");
        await a.set(k, token);
        await expectToken(a, k, token, "get() after set() over a corrupt entry");
      }
      expect(problems.length === 0, problems.join("; and "));
      const token = tokenFor("after-garbage");
      await a.set(key("garbage:0"), token);
      await expectToken(a, key("garbage:0"), token, "get() after set() over garbage");
    },
  },
];

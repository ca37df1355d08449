import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { PropQAuthError } from "@propq/auth";
import { jwtExpiry, parseTokenResponse } from "../src/_token_response.ts";

const NOW = Date.UTC(2026, 10, 22);
const HOUR = 3_600_000;

function jwt(payload: unknown): string {
  const part = (value: unknown) =>
    btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "none" })}.${part(payload)}.sig`;
}

/** Parses, and returns either the token or the typed error; anything else fails the property. */
function outcome(text: string) {
  try {
    return parseTokenResponse(text, NOW);
  } catch (error) {
    assert.ok(error instanceof PropQAuthError, `threw ${error}`);
    assert.equal(error.code, "invalid_response");
    return error;
  }
}

describe("parseTokenResponse()", () => {
  test("reads PropQ's answer: expiry = now + expires_in", () => {
    const token = parseTokenResponse(
      JSON.stringify({ token_type: "Bearer", expires_in: 2592000, access_token: "a.b.c" }),
      NOW,
    );
    assert.deepEqual(token, { accessToken: "a.b.c", expiresAt: NOW + 2592000_000, issuedAt: NOW });
  });

  test("falls back from expires_in to the JWT exp, then to one hour", async (t) => {
    const exp = NOW / 1000 + 7200;
    const cases: [string, unknown, string, number][] = [
      ["numeric string expires_in", "60", "x", NOW + 60_000],
      ["numeric string with spaces", " 7200 ", "x", NOW + 7_200_000],
      ["numeric string in exponent form", "1e3", "x", NOW + 1_000_000],
      ["an expires_in too large for a finite expiry → JWT exp", 1e306, jwt({ exp }), exp * 1000],
      ["an expires_in too small to reach past now → JWT exp", 5e-324, jwt({ exp }), exp * 1000],
      ["zero expires_in → JWT exp", 0, jwt({ exp }), exp * 1000],
      ["negative expires_in → JWT exp", -5, jwt({ exp }), exp * 1000],
      ["non-numeric string → JWT exp", "soon", jwt({ exp }), exp * 1000],
      ["Infinity-like string → JWT exp", "1e999", jwt({ exp }), exp * 1000],
      ["no expires_in, JWT without exp → 1 h", undefined, jwt({ sub: 1 }), NOW + HOUR],
      ["no expires_in, JWT exp in the past → 1 h", undefined, jwt({ exp: NOW / 1000 - 5 }), NOW + HOUR],
      ["no expires_in, opaque token → 1 h", undefined, "opaque", NOW + HOUR],
    ];
    for (const [name, expiresIn, accessToken, expected] of cases) {
      await t.test(name, () => {
        const body = JSON.stringify({ token_type: "Bearer", access_token: accessToken, expires_in: expiresIn });
        assert.equal(parseTokenResponse(body, NOW).expiresAt, expected);
      });
    }
  });

  test("jwtExpiry() ignores anything that is not a JWT with a numeric exp", () => {
    assert.equal(jwtExpiry("a.b"), undefined);
    assert.equal(jwtExpiry("no-dots"), undefined);
    assert.equal(jwtExpiry(`x.${btoa("null")}.y`), undefined);
    assert.equal(jwtExpiry(jwt({ exp: "1" })), undefined);
    assert.equal(jwtExpiry(jwt({ exp: 1 })), 1000);
  });

  test("any text yields a token or an invalid_response error, never a crash", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => void outcome(text)), { numRuns: 2_000 });
  });

  test("any JSON value yields a token or an invalid_response error, never a crash", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => void outcome(JSON.stringify(value))), { numRuns: 2_000 });
  });

  test("any object shaped like a token answer is judged by its fields alone", () => {
    const field = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.constant(null), fc.boolean());
    // Valid values often enough that the positive branch runs too.
    const tokenType = fc.oneof(fc.constantFrom("Bearer", "bearer", "BEARER", "mac"), field);
    const accessToken = fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,40}$/), field);
    fc.assert(
      fc.property(
        fc.record({ access_token: accessToken, token_type: tokenType, expires_in: field }, { requiredKeys: [] }),
        (body) => {
          const result = outcome(JSON.stringify(body));
          const usable = typeof body.access_token === "string" && /^[\x21-\x7e]+$/.test(body.access_token) &&
            typeof body.token_type === "string" && body.token_type.toLowerCase() === "bearer";
          assert.equal(result instanceof PropQAuthError, !usable);
          if (!(result instanceof PropQAuthError)) {
            assert.equal(result.accessToken, body.access_token);
            assert.ok(Number.isFinite(result.expiresAt) && result.expiresAt > NOW);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

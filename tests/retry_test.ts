import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoff, MAX_BACKOFF_MS, parseRetryAfter, retry, RETRY_AFTER_CAP_MS, retryAfterDelay } from "../src/_retry.ts";

const NOW = Date.UTC(2026, 10, 22, 12);

describe("backoff()", () => {
  test("doubles per attempt, jittered within [base·2^n / 2, base·2^n]", () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const ceiling = 500 * 2 ** attempt;
      assert.equal(backoff(attempt, 500, MAX_BACKOFF_MS, () => 0), ceiling / 2);
      assert.equal(backoff(attempt, 500, MAX_BACKOFF_MS, () => 0.999999) <= ceiling, true);
      assert.ok(backoff(attempt, 500, MAX_BACKOFF_MS, () => 0.999999) > ceiling * 0.99);
    }
  });

  test("caps a step at its ceiling, so a timer never overflows", () => {
    assert.equal(backoff(40, 500, MAX_BACKOFF_MS, () => 1), MAX_BACKOFF_MS);
    assert.equal(backoff(2000, 500, 250, () => 1), 250);
    assert.ok(MAX_BACKOFF_MS < 2 ** 31 - 1);
  });
});

describe("retryAfterDelay()", () => {
  test("uses Retry-After in seconds or as an HTTP date, capped at 30 s", () => {
    assert.equal(retryAfterDelay("3", NOW), 3_000);
    assert.equal(retryAfterDelay(new Date(NOW + 7_000).toUTCString(), NOW), 7_000);
    assert.equal(retryAfterDelay("3600", NOW), RETRY_AFTER_CAP_MS);
    assert.equal(RETRY_AFTER_CAP_MS >= 30_000, true);
  });

  test("ignores an unusable Retry-After, and a date in the past waits 0", () => {
    assert.equal(parseRetryAfter("soon", NOW), undefined);
    assert.equal(parseRetryAfter("-1", NOW), undefined);
    assert.equal(parseRetryAfter(null, NOW), undefined);
    assert.equal(retryAfterDelay("soon", NOW), undefined);
    assert.equal(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW), 0);
  });
});

describe("retry()", () => {
  test("retries transient failures with the policy's waits, then returns the result", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retry(
      () => ++calls < 3 ? Promise.reject(new Error("busy")) : Promise.resolve("done"),
      (error) => (error as Error).message === "busy",
      (attempt) => (waits.push(attempt), 1),
    );
    assert.equal(result, "done");
    assert.equal(calls, 3);
    assert.deepEqual(waits, [0, 1]);
  });

  test("throws at once an error the predicate calls permanent", async () => {
    let calls = 0;
    await assert.rejects(
      retry(() => (calls++, Promise.reject(new Error("denied"))), () => false, () => 1),
      /denied/,
    );
    assert.equal(calls, 1);
  });

  test("throws the last error once the policy gives up", async () => {
    let calls = 0;
    await assert.rejects(
      retry(() => Promise.reject(new Error(`busy ${++calls}`)), () => true, (attempt) => attempt < 2 ? 1 : undefined),
      /busy 3/,
    );
  });
});

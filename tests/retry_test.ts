import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { abortable, MAX_BACKOFF_MS, parseRetryAfter, RETRY_AFTER_CAP_MS, retryDelay } from "../src/_retry.ts";

const NOW = Date.UTC(2026, 10, 22, 12);

describe("retryDelay()", () => {
  test("doubles per attempt, jittered within [base·2^n / 2, base·2^n]", () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const ceiling = 500 * 2 ** attempt;
      assert.equal(retryDelay(attempt, 500, null, NOW, () => 0), ceiling / 2);
      assert.equal(retryDelay(attempt, 500, null, NOW, () => 0.999999) <= ceiling, true);
      assert.ok(retryDelay(attempt, 500, null, NOW, () => 0.999999) > ceiling * 0.99);
    }
  });

  test("caps a backoff step at MAX_BACKOFF_MS, so a timer never overflows", () => {
    assert.equal(retryDelay(40, 500, null, NOW, () => 1), MAX_BACKOFF_MS);
    assert.ok(MAX_BACKOFF_MS < 2 ** 31 - 1);
  });

  test("uses Retry-After in seconds or as an HTTP date, capped at 30 s", () => {
    assert.equal(retryDelay(0, 500, "3", NOW), 3_000);
    assert.equal(retryDelay(0, 500, new Date(NOW + 7_000).toUTCString(), NOW), 7_000);
    assert.equal(retryDelay(0, 500, "3600", NOW), RETRY_AFTER_CAP_MS);
    assert.equal(RETRY_AFTER_CAP_MS >= 30_000, true);
  });

  test("ignores an unusable Retry-After and a date in the past waits 0", () => {
    assert.equal(parseRetryAfter("soon", NOW), undefined);
    assert.equal(parseRetryAfter("-1", NOW), undefined);
    assert.equal(parseRetryAfter(null, NOW), undefined);
    assert.equal(parseRetryAfter(new Date(NOW - 5_000).toUTCString(), NOW), 0);
    assert.equal(retryDelay(1, 100, "soon", NOW, () => 0), 100);
  });
});

describe("abortable()", () => {
  test("rejects with the signal's reason while the work goes on", async () => {
    const controller = new AbortController();
    let finish!: (value: string) => void;
    const work = new Promise<string>((resolve) => finish = resolve);
    const waiting = abortable(work, controller.signal);
    controller.abort("bored");
    await assert.rejects(waiting, (reason) => reason === "bored");
    finish("done");
    assert.equal(await work, "done");
  });
});

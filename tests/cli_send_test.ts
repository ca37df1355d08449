// The parts of `propq-auth units update` that send and show progress, in-process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PropQApiError } from "@propq/auth";
import { NetworkError, retryAfterMs, sendAll } from "../src/cli/_send.ts";
import { duration, progress } from "../src/cli/_progress.ts";

function apiError(status: number, headers: Record<string, string> = {}): PropQApiError {
  return new PropQApiError(`PropQ API responded ${status}`, {
    status,
    response: new Response(null, { status, headers }),
  });
}

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

describe("sendAll()", () => {
  test("keeps at most `concurrency` in flight, starts in order, returns outcomes in item order", async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const items = Array.from({ length: 40 }, (_, i) => i);
    const outcomes = await sendAll(items, async (item) => {
      started.push(item);
      most = Math.max(most, ++inFlight);
      await tick(item % 3);
      inFlight--;
      return 200 + (item % 2);
    }, { concurrency: 6 });
    assert.equal(most, 6);
    assert.deepEqual(started, items);
    assert.deepEqual(outcomes.map((o) => o.httpStatus), items.map((i) => 200 + (i % 2)));
    assert.ok(outcomes.every((o) => o.ok && o.attempts === 1 && o.error === null));
  });

  test("retries 429, 5xx and network failures; not 4xx or a validation TypeError", async () => {
    const failures: Record<string, unknown[]> = {
      s429: [apiError(429, { "retry-after": "0" })],
      s503: [apiError(503), apiError(502)],
      net: [new NetworkError(new TypeError("fetch failed", { cause: new Error("ECONNRESET") }))],
      s422: [apiError(422)],
      type: [new TypeError("UntName must be a string")],
    };
    const calls: Record<string, number> = {};
    const outcomes = await sendAll(Object.keys(failures), (key) => {
      calls[key] = (calls[key] ?? 0) + 1;
      const error = failures[key].shift();
      return error === undefined ? Promise.resolve(200) : Promise.reject(error);
    }, { concurrency: 5, baseDelayMs: 1 });
    assert.deepEqual(calls, { s429: 2, s503: 3, net: 2, s422: 1, type: 1 });
    assert.deepEqual(outcomes.map((o) => [o.ok, o.httpStatus]), [
      [true, 200],
      [true, 200],
      [true, 200],
      [false, 422],
      [false, null],
    ]);
  });

  test("gives up after maxAttempts, keeping the last status and saying how many attempts", async () => {
    let calls = 0;
    const [outcome] = await sendAll(["x"], () => (calls++, Promise.reject(apiError(500))), {
      concurrency: 1,
      maxAttempts: 3,
      baseDelayMs: 1,
    });
    assert.equal(calls, 3);
    assert.deepEqual(outcome, {
      ok: false,
      httpStatus: 500,
      error: "PropQ API responded 500 (3 attempts)",
      attempts: 3,
    });
  });

  test("a 429's Retry-After holds back every sender, not only the row that got it", async () => {
    const sent: { item: string; at: number }[] = [];
    let limited = false;
    const started = Date.now();
    await sendAll(["a", "b", "c"], async (item) => {
      sent.push({ item, at: Date.now() - started });
      if (item === "a" && !limited) {
        limited = true;
        throw apiError(429, { "retry-after": "1" });
      }
      await tick(20);
      return 200;
    }, { concurrency: 2 });
    const retry = sent.filter((s) => s.item === "a")[1];
    const third = sent.find((s) => s.item === "c")!;
    assert.ok(retry.at >= 950, `retried after ${retry.at} ms`);
    assert.ok(third.at >= 950, `"c" started after ${third.at} ms, inside the pause`);
  });

  test("backs off with jitter between half and all of base x 2^(attempt-1)", async () => {
    const at: number[] = [];
    await sendAll(["x"], () => (at.push(Date.now()), Promise.reject(apiError(503))), {
      concurrency: 1,
      baseDelayMs: 100,
      maxAttempts: 3,
    });
    const gaps = [at[1] - at[0], at[2] - at[1]];
    assert.ok(gaps[0] >= 45 && gaps[0] < 1000, `first wait ${gaps[0]} ms`);
    assert.ok(gaps[1] >= 95 && gaps[1] < 1500, `second wait ${gaps[1]} ms`);
  });

  test("once aborted, starts nothing more; the rest end as not sent, a waiting retry keeps its last error", async () => {
    const controller = new AbortController();
    const items = Array.from({ length: 10 }, (_, i) => i);
    const outcomes = await sendAll(items, async (item) => {
      if (item === 0) throw apiError(503, { "retry-after": "30" });
      if (item === 2) controller.abort();
      await tick();
      return 200;
    }, { concurrency: 2, signal: controller.signal });
    assert.deepEqual(outcomes[0], {
      ok: false,
      httpStatus: 503,
      error: "PropQ API responded 503, then interrupted",
      attempts: 1,
    });
    assert.deepEqual(outcomes.slice(1, 3).map((o) => o.ok), [true, true]);
    assert.ok(outcomes.slice(3).every((o) => !o.ok && o.error === "not sent: interrupted" && o.attempts === 0));
  });
});

describe("retryAfterMs()", () => {
  test("seconds or an HTTP date; nothing for an absent or unreadable header", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(retryAfterMs("7", now), 7000);
    assert.equal(retryAfterMs("Thu, 01 Jan 2026 00:00:03 GMT", now), 3000);
    assert.equal(retryAfterMs("Wed, 31 Dec 2025 23:00:00 GMT", now), 0);
    assert.equal(retryAfterMs(null, now), undefined);
    assert.equal(retryAfterMs("soon", now), undefined);
  });
});

describe("progress()", () => {
  function recorder(isTTY: boolean) {
    const written: string[] = [];
    let time = 0;
    const display = progress(
      200,
      { err: (text) => void written.push(text), errIsTTY: isTTY, columns: 100 },
      () => time,
    );
    return { written, display, advance: (ms: number) => void (time += ms) };
  }

  test("without a terminal: one line per tenth, with rows, failed, rate and time left", () => {
    const { written, display, advance } = recorder(false);
    for (let done = 1; done <= 200; done++) {
      advance(10);
      display.update(done, Math.floor(done / 50));
    }
    display.finish();
    assert.equal(written.length, 10);
    assert.equal(written[0], "propq-auth: 20/200 rows (10%), 0 failed, 100.0 rows/s, ETA 2s\n");
    assert.equal(written[9], "propq-auth: 200/200 rows (100%), 4 failed, 100.0 rows/s, ETA 0s\n");
  });

  test("on a terminal: one line redrawn in place, at most every 100 ms, and the last state kept", () => {
    const { written, display, advance } = recorder(true);
    for (let done = 1; done <= 200; done++) {
      advance(10);
      display.update(done, 0);
    }
    display.finish();
    assert.ok(written.length >= 20 && written.length <= 22, `${written.length} draws`);
    // Shown with <ESC> for the escape character: "\r" returns to the line's start, ESC [K clears what is left.
    const frames = written.map((frame) => frame.replaceAll("\x1b", "<ESC>"));
    assert.ok(frames.every((frame) => frame.startsWith("\r[") && /<ESC>\[K\n?$/.test(frame)));
    assert.match(frames[0], /^\r\[░+\] 1\/200 rows {2}0 failed {2}100\.0 rows\/s {2}ETA 2s<ESC>\[K$/);
    assert.match(frames.at(-1)!, /^\r\[█+\] 200\/200 rows .*ETA 0s<ESC>\[K\n$/);
  });

  test("duration() reads like a clock", () => {
    assert.deepEqual([duration(0), duration(59.4), duration(95), duration(3725), duration(Infinity)], [
      "0s",
      "59s",
      "1m35s",
      "1h02m",
      "--",
    ]);
  });
});

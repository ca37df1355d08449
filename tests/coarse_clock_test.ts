import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CoarseClock, DENSE_READINGS, READINGS_SPARED } from "../src/_coarse_clock.ts";

/** A clock and an event loop driven by hand. */
function harness(start = 1_000) {
  let time = start;
  let readings = 0;
  const pending: (() => void)[] = [];
  const clock = new CoarseClock(() => (readings++, time), (callback) => pending.push(callback));
  return {
    clock,
    advance: (ms: number) => void (time += ms),
    readings: () => readings,
    endTurn: () => pending.splice(0).forEach((callback) => callback()),
    scheduled: () => pending.length,
  };
}

describe("CoarseClock", () => {
  test("reads the real clock on every call while calls are sparse", () => {
    const h = harness();
    for (let i = 0; i < 200; i++) {
      assert.equal(h.clock.now(), 1_000 + i);
      h.advance(1);
    }
    assert.equal(h.readings(), 200);
    assert.equal(h.scheduled(), 0, "no timer for sparse calls");
  });

  test(`after ${DENSE_READINGS} readings in one millisecond, one reading serves the next ${READINGS_SPARED} calls`, () => {
    const h = harness();
    for (let i = 0; i <= DENSE_READINGS; i++) h.clock.now();
    assert.equal(h.readings(), DENSE_READINGS + 1);
    assert.equal(h.scheduled(), 1, "one timer marks the end of the turn");
    h.advance(5); // time moves, but the turn goes on: the last reading stands
    for (let i = 0; i < READINGS_SPARED; i++) assert.equal(h.clock.now(), 1_000);
    assert.equal(h.readings(), DENSE_READINGS + 1);
    assert.equal(h.clock.now(), 1_005, "once the spared calls are spent, it reads again");
  });

  test("the end of the event-loop turn brings back real readings", () => {
    const h = harness();
    for (let i = 0; i <= DENSE_READINGS; i++) h.clock.now();
    h.advance(7);
    h.endTurn();
    assert.equal(h.clock.now(), 1_007);
    assert.equal(h.clock.now(), 1_007);
    assert.equal(h.readings(), DENSE_READINGS + 3, "sparse again: every call reads");
  });

  test("reset() makes the next call read the real clock", () => {
    const h = harness();
    for (let i = 0; i <= DENSE_READINGS; i++) h.clock.now();
    h.advance(3);
    h.clock.reset();
    assert.equal(h.clock.now(), 1_003);
  });

  test("schedules at most one end-of-turn callback per turn", () => {
    const h = harness();
    for (let i = 0; i < DENSE_READINGS + 3 * READINGS_SPARED; i++) h.clock.now();
    assert.equal(h.scheduled(), 1);
  });
});

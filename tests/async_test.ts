import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { abortable } from "../src/_async.ts";

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

  test("an already aborted signal rejects at once; no signal returns the promise itself", async () => {
    const work = Promise.resolve(1);
    assert.equal(abortable(work, undefined), work);
    await assert.rejects(abortable(work, AbortSignal.abort("gone")), (reason) => reason === "gone");
  });
});

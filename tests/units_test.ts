import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PropQApiError, UnitStatus, type UnitUpdate, updateUnitByName } from "@propq/auth";
import { rejection, withSetup } from "./_helpers.ts";

const UNIT: UnitUpdate = { UntName: "A-101", UntStatus: UnitStatus.SOLD, UntPrice: 350000, UntDirections: ["South"] };

describe("UnitStatus", () => {
  test("numbers the statuses as PropQ does", () => {
    assert.deepEqual({ ...UnitStatus }, { AVAILABLE: 1, HOLD: 2, SOLD: 4, RESERVED: 8 });
  });
});

describe("updateUnitByName()", () => {
  test("POSTs the unit as JSON to the development's update-by-name route and returns the answer", () =>
    withSetup(async ({ server, client }) => {
      const answer = await updateUnitByName(client, 1234, UNIT);
      assert.deepEqual(answer, { success: true, development_id: "1234", unit: UNIT });
      const sent = server.requests.at(-1)!;
      assert.equal(sent.method, "POST");
      assert.equal(sent.path, "/v1/developments/1234/units/update-by-name");
      assert.equal(sent.headers["content-type"], "application/json");
      assert.equal(sent.headers.authorization, `Bearer ${server.issuedTokens[0]}`);
      assert.deepEqual(JSON.parse(sent.body), UNIT);
    }));

  test("takes the development id as a positive integer or a string of digits", () =>
    withSetup(async ({ server, client }) => {
      await updateUnitByName(client, "0042", UNIT);
      assert.equal(server.requests.at(-1)!.path, "/v1/developments/42/units/update-by-name");
    }));

  test("refuses any other development id, sending nothing (no path traversal)", async (t) => {
    for (const id of ["..", ".", "1/../2", "dev/9", "%2e%2e", " 1", "1e3", "-1", 0, 1.5, -3, NaN, 2 ** 60]) {
      await t.test(JSON.stringify(id) ?? String(id), () =>
        withSetup(async ({ server, client }) => {
          await assert.rejects(updateUnitByName(client, id, UNIT), RangeError);
          assert.equal(server.requests.length, 0);
        }));
    }
  });

  test("sends only the documented fields", () =>
    withSetup(async ({ server, client }) => {
      await updateUnitByName(client, 1, { ...UNIT, extra: "dropped" } as UnitUpdate);
      assert.deepEqual(Object.keys(JSON.parse(server.requests.at(-1)!.body)), Object.keys(UNIT));
    }));

  test("validates its input before sending anything", async (t) => {
    const invalid: [string, number | string, unknown, typeof TypeError | typeof RangeError][] = [
      ["an unknown status", 1, { ...UNIT, UntStatus: 3 }, RangeError],
      ["a status given as text", 1, { ...UNIT, UntStatus: "4" }, TypeError],
      ["a negative price", 1, { ...UNIT, UntPrice: -1 }, RangeError],
      ["a NaN price", 1, { ...UNIT, UntPrice: Number.NaN }, RangeError],
      ["an infinite price", 1, { ...UNIT, UntPrice: Infinity }, RangeError],
      ["a price given as text", 1, { ...UNIT, UntPrice: "100" }, TypeError],
      ["an empty name", 1, { ...UNIT, UntName: " " }, RangeError],
      ["a missing name", 1, { ...UNIT, UntName: undefined }, TypeError],
      ["directions that are not strings", 1, { ...UNIT, UntDirections: ["N", 4] }, TypeError],
      ["directions that are not an array", 1, { ...UNIT, UntDirections: "N" }, TypeError],
      ["no unit at all", 1, null, TypeError],
      ["a zero development id", 0, UNIT, RangeError],
      ["a fractional development id", 1.5, UNIT, RangeError],
      ["an empty development id", "", UNIT, RangeError],
    ];
    for (const [name, developmentId, unit, type] of invalid) {
      await t.test(`${name}: ${type.name}`, () =>
        withSetup(async ({ server, client }) => {
          const error = await rejection(updateUnitByName(client, developmentId, unit as UnitUpdate));
          assert.ok(error instanceof type, `got ${error}`);
          assert.equal(server.requests.length, 0);
        }));
    }
  });

  test("turns every non-2xx answer into a PropQApiError", async (t) => {
    const answers: [number, unknown, RegExp][] = [
      [400, { message: "Unit not found." }, /400.*processing error: Unit not found\./],
      [403, { message: "This action is unauthorized." }, /403.*not privileged/],
      [419, { message: "Method not allowed." }, /419.*wrong HTTP method/],
      [500, "<html>Server Error</html>", /500.*server error/],
      [503, undefined, /503.*server error/],
      [302, undefined, /302.*Content-Type: application\/json/],
    ];
    for (const [status, body, message] of answers) {
      await t.test(String(status), () =>
        withSetup(async ({ server, client }) => {
          server.scriptApi({ status, body, headers: status === 302 ? { location: "/" } : {} });
          const error = await rejection(updateUnitByName(client, 1, UNIT));
          assert.ok(error instanceof PropQApiError, `got ${error}`);
          assert.equal(error.status, status);
          assert.equal(error.response.status, status);
          assert.match(error.message, message);
          assert.equal(server.requests.filter((r) => r.path === "/").length, 0, "the redirect was not followed");
        }));
    }
  });

  test("a 422 carries the API's validation messages by field", () =>
    withSetup(async ({ server, client }) => {
      server.scriptApi({
        status: 422,
        body: { message: "The given data was invalid.", errors: { UntPrice: ["The unt price must be a number."] } },
      });
      const error = await rejection(updateUnitByName(client, 1, UNIT));
      assert.ok(error instanceof PropQApiError);
      assert.equal(error.status, 422);
      assert.deepEqual(error.errors, { UntPrice: ["The unt price must be a number."] });
      assert.equal(error.description, "The given data was invalid.");
      assert.match(error.message, /UntPrice: The unt price must be a number\./);
    }));

  test("the local server's own validation answers 422 too", () =>
    withSetup(async ({ client }) => {
      const response = await client.fetch("/v1/developments/1/units/update-by-name", {
        method: "POST",
        body: JSON.stringify({ UntName: "", UntStatus: 3 }),
      });
      assert.equal(response.status, 422);
      assert.deepEqual(Object.keys((await response.json()).errors).sort(), [
        "UntDirections",
        "UntName",
        "UntPrice",
        "UntStatus",
      ]);
    }));
});

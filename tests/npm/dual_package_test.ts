// The dual-package hazard: an error thrown by the CommonJS copy of the package must pass `instanceof`
// against the ES module class, and the other way round.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { PropQApiError, PropQAuthError } from "propq-auth";

const require = createRequire(import.meta.url);

test("instanceof PropQAuthError and PropQApiError hold across the ES module and CommonJS copies", () => {
  const cjs = require("propq-auth");
  assert.notEqual(cjs.PropQAuthError, PropQAuthError, "two copies of the class");
  const fromCjs = new cjs.PropQAuthError("x", { code: "timeout" });
  assert.ok(fromCjs instanceof PropQAuthError);
  assert.ok(new PropQAuthError("y", { code: "config" }) instanceof cjs.PropQAuthError);
  assert.ok(new cjs.PropQApiError("z", { status: 422, response: new Response() }) instanceof PropQApiError);
  assert.ok(!(fromCjs instanceof PropQApiError));
  // A real failure of the CommonJS client, caught by ES module code.
  assert.throws(() => cjs.createClient({ clientId: "nope", clientSecret: "s" }), PropQAuthError);
});

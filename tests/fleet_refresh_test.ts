// Refresh ahead across a fleet: 8 processes sharing a FileCache, a KvCache or a RedisCache make ONE background refresh
// between them when their shared token reaches its refresh window, and every one of them moves to the new token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer } from "@propq/auth/testing";
import { finished, ready, startFixture } from "./_process.ts";
import { kvUnavailable } from "./fixtures/kv_open.ts";
import { redisServerMissing, startRedisServer } from "./_redis_server.ts";

const FLEET = 8;

async function fleetRefresh(cache: "file" | "kv" | "redis"): Promise<void> {
  // An 8 s token: refreshed 4 s after it is issued; the next refresh would come 4 s later, after the run ends.
  const server = await startTestServer({ expiresIn: 8 });
  const dir = await mkdtemp(join(tmpdir(), "propq-auth-fleet-"));
  const redis = cache === "redis" ? await startRedisServer() : undefined;
  const go = join(dir, "go");
  try {
    const env = { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
    const path = redis?.url ?? join(dir, cache === "kv" ? "tokens.sqlite" : "tokens.json");
    const members = Array.from({ length: FLEET }, () =>
      startFixture("fleet_refresh", [
        "--cache",
        cache,
        "--path",
        path,
        "--token-url",
        server.tokenUrl,
        "--run-ms",
        "6500",
        "--go-file",
        go,
      ], env));
    await Promise.all(members.map(ready)); // all loaded: now they start together
    await writeFile(go, "");
    const results = await Promise.all(members.map((child) => finished(child, 90_000)));
    const reports = results.map((result) => {
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    });
    assert.equal(server.tokenRequests, 2, "the first token, then one refresh for the whole fleet");
    assert.equal(reports.reduce((sum, report) => sum + report.background, 0), 1, "one background refresh");
    for (const report of reports) {
      assert.equal(report.failures, 0);
      assert.deepEqual(report.seen, server.issuedTokens, "each member moved from the first token to the new one");
    }
  } finally {
    await server.close();
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test(`FileCache: ${FLEET} processes make one background refresh between them`, () => fleetRefresh("file"));

test(`KvCache: ${FLEET} processes make one background refresh between them`, {
  skip: kvUnavailable() ?? false,
}, () => fleetRefresh("kv"));

test(`RedisCache: ${FLEET} processes make one background refresh between them`, {
  skip: redisServerMissing() ?? false,
}, () => fleetRefresh("redis"));

import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createClient } from "@propq/auth";
import { FileCache } from "@propq/auth/file";
import { startTestServer, type TestServer } from "@propq/auth/testing";
import { testCacheContract } from "./_cache_contract.ts";
import { finished, type FixtureResult, runFixture, startFixture } from "./_process.ts";
import { userCacheDir } from "../src/adapters/_file_io.ts";

const HOUR = 3_600_000;
const isWindows = process.platform === "win32";
const isRoot = process.getuid?.() === 0;

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "propq-auth-file-"));
}

function clientOptions(server: TestServer) {
  return { clientId: server.clientId, clientSecret: server.clientSecret, tokenUrl: server.tokenUrl };
}

/** The environment that gives fixtures the server's credentials. */
function credentials(server: TestServer): Record<string, string> {
  return { PROPQ_CLIENT_ID: String(server.clientId), PROPQ_CLIENT_SECRET: server.clientSecret };
}

function lastLine(result: FixtureResult): string {
  const lines = result.stdout.trim().split("\n");
  return lines[lines.length - 1];
}

function readyLine(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (chunk: string) => {
      seen += chunk;
      if (seen.includes("ready\n")) resolve();
    });
    child.on("close", () => reject(new Error("a fixture exited before it was ready")));
  });
}

/** Starts `count` fixtures, waits until all are loaded, then lets them go at the same moment. */
async function runTogether(
  count: number,
  name: string,
  args: (index: number) => string[],
  env: Record<string, string>,
  dir: string,
): Promise<FixtureResult[]> {
  const goFile = join(dir, `go-${name}`);
  const children = Array.from({ length: count }, (_, i) => startFixture(name, [...args(i), "--go-file", goFile], env));
  const results = children.map((child) => finished(child, 90_000));
  try {
    await Promise.all(children.map(readyLine));
  } catch (error) {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(results);
    throw error;
  }
  await writeFile(goFile, "");
  return await Promise.all(results);
}

function assertSucceeded(result: FixtureResult): void {
  assert.equal(result.code, 0, `fixture failed: ${result.stderr}`);
}

/** Files next to the token file: no lock or temporary file may be left behind. */
async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith("go-")).sort();
}

testCacheContract("FileCache", async () => {
  const dir = await tempDir();
  const path = join(dir, "tokens.json");
  return {
    cache: new FileCache(path),
    reopen: () => Promise.resolve(new FileCache(path)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test("FileCache keeps propq-auth/tokens.json in the user's cache directory by default", async (t) => {
  const home = () => "/home/ana";
  await t.test("XDG_CACHE_HOME wins when it is an absolute path", () => {
    assert.equal(userCacheDir("linux", { XDG_CACHE_HOME: "/var/cache/ana" }, home), "/var/cache/ana");
    assert.equal(userCacheDir("darwin", { XDG_CACHE_HOME: "/xdg" }, home), "/xdg");
    assert.equal(userCacheDir("linux", { XDG_CACHE_HOME: "relative/dir" }, home), "/home/ana/.cache");
  });
  await t.test("~/.cache on Linux and other Unixes", () => {
    assert.equal(userCacheDir("linux", {}, home), "/home/ana/.cache");
    assert.equal(userCacheDir("freebsd", {}, home), "/home/ana/.cache");
    assert.equal(userCacheDir("linux", { HOME: "/home/bo" }, home), "/home/bo/.cache");
  });
  await t.test("~/Library/Caches on macOS", () => {
    assert.equal(userCacheDir("darwin", {}, home), "/home/ana/Library/Caches");
  });
  await t.test("%LOCALAPPDATA% on Windows", () => {
    const windowsHome = () => "C:\\Users\\ana";
    assert.equal(userCacheDir("win32", { LOCALAPPDATA: "D:\\Local" }, windowsHome), "D:\\Local");
    assert.equal(userCacheDir("win32", {}, windowsHome), "C:\\Users\\ana\\AppData\\Local");
    assert.equal(userCacheDir("win32", { USERPROFILE: "C:\\Users\\bo" }, windowsHome), "C:\\Users\\bo\\AppData\\Local");
  });
  await t.test("new FileCache() points there", () => {
    const expected = join(userCacheDir(process.platform, process.env, homedir), "propq-auth", "tokens.json");
    assert.equal(new FileCache().path, expected);
  });
});

test("FileCache creates its directory at mode 0700 and its file at mode 0600", { skip: isWindows }, async (t) => {
  const dir = await tempDir();
  try {
    await t.test("when it creates them", async () => {
      const cacheDir = join(dir, "nested", "propq-auth");
      const path = join(cacheDir, "tokens.json");
      await new FileCache(path).set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
      assert.equal((await stat(join(dir, "nested"))).mode & 0o777, 0o700);
      assert.equal((await stat(cacheDir)).mode & 0o777, 0o700);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(await leftovers(cacheDir), ["tokens.json"]);
    });

    await t.test("when it replaces a world-readable file", async () => {
      const path = join(dir, "tokens.json");
      await writeFile(path, "{}");
      await chmod(path, 0o644);
      await new FileCache(path).set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache writes the token but never the client secret", async () => {
  const server = await startTestServer();
  const dir = await tempDir();
  try {
    const path = join(dir, "tokens.json");
    const token = await createClient({ ...clientOptions(server), cache: new FileCache(path) }).getToken();
    const text = await readFile(path, "utf8");
    assert.ok(text.includes(token));
    assert.ok(!text.includes(server.clientSecret));
    assert.ok(!text.includes(encodeURIComponent(server.clientSecret)));
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache keeps the tokens of many clients in one file", async () => {
  const servers = await Promise.all([startTestServer(), startTestServer(), startTestServer()]);
  const dir = await tempDir();
  try {
    const path = join(dir, "tokens.json");
    const tokens = [];
    for (const server of servers) {
      tokens.push(await createClient({ ...clientOptions(server), cache: new FileCache(path) }).getToken());
    }
    for (const [i, server] of servers.entries()) {
      const again = await createClient({ ...clientOptions(server), cache: new FileCache(path) }).getToken();
      assert.equal(again, tokens[i]);
      assert.equal(server.tokenRequests, 1);
    }
    const file = JSON.parse(await readFile(path, "utf8"));
    assert.equal(Object.keys(file.tokens).length, 3);
  } finally {
    await Promise.all(servers.map((server) => server.close()));
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache treats a corrupt or foreign file as a miss and repairs it on the next write", async (t) => {
  const server = await startTestServer();
  const dir = await tempDir();
  const valid = { format: "propq-auth/tokens", version: 1, tokens: { k: { accessToken: "t", expiresAt: 9e15 } } };
  const cases: [string, string][] = [
    ["garbage", "\u0000\u00ff not JSON at all"],
    ["truncated JSON", JSON.stringify(valid).slice(0, 60)],
    ["an empty file", ""],
    ["a JSON array", JSON.stringify([{ accessToken: "t", expiresAt: 9e15 }])],
    ["another tool's JSON", JSON.stringify({ access_token: "t", expires_in: 3600 })],
    ["a future format version", JSON.stringify({ ...valid, version: 2 })],
    ["entries of the wrong shape", JSON.stringify({ ...valid, tokens: { k: { accessToken: 42, expiresAt: "soon" } } })],
    ["JSON null", "null"],
  ];
  try {
    for (const [label, content] of cases) {
      await t.test(label, async () => {
        const path = join(dir, `${label.replace(/\W+/g, "-")}.json`);
        await writeFile(path, content);
        const cache = new FileCache(path, { onError: (error) => assert.fail(error) });
        assert.equal(await cache.get("k"), undefined);

        const before = server.tokenRequests;
        const token = await createClient({ ...clientOptions(server), cache }).getToken();
        assert.equal(server.tokenRequests, before + 1);

        const again = await createClient({ ...clientOptions(server), cache: new FileCache(path) }).getToken();
        assert.equal(again, token);
        assert.equal(server.tokenRequests, before + 1);
        assert.equal(JSON.parse(await readFile(path, "utf8")).format, "propq-auth/tokens");
      });
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache does not serve expired entries and drops them on the next write", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "tokens.json");
    const tokens = {
      old: { accessToken: "expired", expiresAt: Date.now() - 1 },
      live: { accessToken: "live", expiresAt: Date.now() + HOUR },
    };
    await writeFile(path, JSON.stringify({ format: "propq-auth/tokens", version: 1, tokens }));
    const cache = new FileCache(path);
    assert.equal(await cache.get("old"), undefined);
    assert.equal((await cache.get("live"))?.accessToken, "live");

    await cache.set("new", { accessToken: "new", expiresAt: Date.now() + HOUR });
    assert.deepEqual(Object.keys(JSON.parse(await readFile(path, "utf8")).tokens).sort(), ["live", "new"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache at an unusable location still yields tokens and reports once", async (t) => {
  const server = await startTestServer();
  const dir = await tempDir();
  try {
    await t.test("a path under a regular file", async () => {
      await writeFile(join(dir, "a-file"), "");
      const path = join(dir, "a-file", "propq-auth", "tokens.json");
      const errors: Error[] = [];
      const cache = new FileCache(path, { onError: (error) => errors.push(error) });
      const first = await createClient({ ...clientOptions(server), cache }).getToken();
      const second = await createClient({ ...clientOptions(server), cache }).getToken({ forceRefresh: true });
      assert.ok(first.length > 0 && second.length > 0);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof Error);
      assert.ok(errors[0].message.includes(join(dir, "a-file")), errors[0].message);
      assert.equal((errors[0].cause as { code?: string }).code, "ENOTDIR");
    });

    await t.test("a read-only directory", { skip: isWindows || isRoot }, async () => {
      const readOnly = join(dir, "read-only");
      await mkdir(readOnly, { mode: 0o500 });
      try {
        const errors: Error[] = [];
        const cache = new FileCache(join(readOnly, "tokens.json"), { onError: (error) => errors.push(error) });
        assert.ok((await createClient({ ...clientOptions(server), cache }).getToken()).length > 0);
        await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
        assert.equal(errors.length, 1);
        assert.equal((errors[0].cause as { code?: string }).code, "EACCES");
      } finally {
        await chmod(readOnly, 0o700);
      }
    });

    await t.test("an onError that throws changes nothing", async () => {
      const cache = new FileCache(join(dir, "a-file", "tokens.json"), {
        onError: () => {
          throw new Error("reporter failed");
        },
      });
      assert.ok((await createClient({ ...clientOptions(server), cache }).getToken()).length > 0);
    });
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache warns once through process.emitWarning when no onError is given", async () => {
  const dir = await tempDir();
  const warnings: unknown[][] = [];
  const emitWarning = process.emitWarning;
  process.emitWarning = ((...args: unknown[]) => void warnings.push(args)) as typeof process.emitWarning;
  try {
    await writeFile(join(dir, "a-file"), "");
    const cache = new FileCache(join(dir, "a-file", "tokens.json"));
    await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
    await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
    assert.equal(await cache.get("k"), undefined);
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0][0]), /FileCache cannot/);
    assert.deepEqual(warnings[0][1], { type: "PropQAuthWarning", code: "PROPQ_AUTH_FILE_CACHE" });
  } finally {
    process.emitWarning = emitWarning;
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache refuses bad arguments with TypeError and RangeError", async () => {
  assert.throws(() => new FileCache(""), TypeError);
  assert.throws(() => new FileCache(42 as unknown as string), TypeError);
  assert.throws(() => new FileCache(undefined, { onError: "log" as unknown as () => void }), TypeError);
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new FileCache(undefined, { staleLockMs: bad }), RangeError);
    assert.throws(() => new FileCache(undefined, { lockTimeoutMs: bad }), RangeError);
  }
  const cache = new FileCache(join(tmpdir(), "propq-auth-never-written", "tokens.json"));
  await assert.rejects(cache.set("k", { accessToken: "", expiresAt: Date.now() + HOUR }), TypeError);
  await assert.rejects(cache.set("k", { accessToken: "abc", expiresAt: Number.NaN }), TypeError);
});

test("FileCache.lock() lets one holder in at a time and resolves anyway after lockTimeoutMs", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "tokens.json");
    const release = await new FileCache(path).lock("k");
    const errors: Error[] = [];
    const impatient = new FileCache(path, { lockTimeoutMs: 300, onError: (error) => errors.push(error) });
    const started = Date.now();
    const giveUp = await impatient.lock("k");
    const waited = Date.now() - started;
    assert.ok(waited >= 290 && waited < 10_000, `waited ${waited} ms`);
    assert.equal(errors.length, 1);
    assert.equal((errors[0].cause as { code?: string }).code, "ETIMEDOUT");
    await giveUp();

    assert.equal((await readdir(dir)).length, 1); // the holder's lock file is still there
    await release();
    await release();
    assert.deepEqual(await readdir(dir), []);
    const other = await new FileCache(path).lock("other key");
    await (await new FileCache(path).lock("k"))(); // other keys do not wait for each other
    await other();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache.lock() takes over a lock file its holder stopped refreshing after staleLockMs", async (t) => {
  const dir = await tempDir();
  const path = join(dir, "tokens.json");
  /** Leaves a lock file as a process that died while holding it would, last refreshed `ageMs` ago. */
  async function deadHolder(ageMs: number): Promise<string> {
    const release = await new FileCache(path).lock("k");
    const [name] = await readdir(dir);
    await release();
    await writeFile(join(dir, name), "a dead holder");
    const then = new Date(Date.now() - ageMs);
    await utimes(join(dir, name), then, then);
    return join(dir, name);
  }
  try {
    await t.test("at once when it is older than staleLockMs", async () => {
      const lockFile = await deadHolder(10_000);
      const started = Date.now();
      const release = await new FileCache(path, { staleLockMs: 5_000, onError: (e) => assert.fail(e) }).lock("k");
      assert.ok(Date.now() - started < 2_000);
      assert.notEqual(await readFile(lockFile, "utf8"), "a dead holder");
      await release();
      assert.deepEqual(await readdir(dir), []);
    });

    await t.test("once it becomes older than staleLockMs", async () => {
      await deadHolder(0);
      const started = Date.now();
      const release = await new FileCache(path, { staleLockMs: 500, onError: (e) => assert.fail(e) }).lock("k");
      const waited = Date.now() - started;
      assert.ok(waited >= 400 && waited < 10_000, `waited ${waited} ms`);
      await release();
    });

    await t.test("by one waiter only when many wait", async () => {
      await deadHolder(10_000);
      let inside = 0;
      let most = 0;
      await Promise.all(Array.from({ length: 6 }, async () => {
        const release = await new FileCache(path, { staleLockMs: 5_000, onError: (e) => assert.fail(e) }).lock("k");
        most = Math.max(most, ++inside);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inside--;
        await release();
      }));
      assert.equal(most, 1);
      assert.deepEqual(await readdir(dir), []);
    });

    await t.test("even when a waiter died in the middle of a takeover", async () => {
      const lockFile = await deadHolder(10_000);
      const then = new Date(Date.now() - 10_000);
      await writeFile(`${lockFile}.takeover`, "a dead waiter");
      await utimes(`${lockFile}.takeover`, then, then);
      const release = await new FileCache(path, { staleLockMs: 5_000, onError: (e) => assert.fail(e) }).lock("k");
      await release();
      assert.deepEqual(await readdir(dir), []);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache shares one token between OS processes", { timeout: 240_000 }, async (t) => {
  const dir = await tempDir();
  try {
    await t.test("8 processes that start cold together make one token request", async () => {
      const server = await startTestServer({ tokenDelayMs: 200 });
      try {
        const cacheDir = join(dir, "cold");
        const path = join(cacheDir, "tokens.json");
        const started = Date.now();
        const results = await runTogether(
          8,
          "file_get_token",
          () => ["--path", path, "--token-url", server.tokenUrl],
          credentials(server),
          dir,
        );
        const elapsed = Date.now() - started;
        results.forEach(assertSucceeded);
        const outputs = results.map((result) => JSON.parse(lastLine(result)));
        assert.deepEqual(outputs.flatMap((output) => output.errors), []);
        assert.equal(new Set(outputs.map((output) => output.token)).size, 1, JSON.stringify(outputs));
        assert.equal(server.tokenRequests, 1);
        assert.deepEqual(await leftovers(cacheDir), ["tokens.json"]);
        t.diagnostic(
          `8 processes: ${elapsed} ms in all, getToken took up to ${Math.max(...outputs.map((o) => o.ms))} ms`,
        );
      } finally {
        await server.close();
      }
    });

    await t.test("a later process reuses the first one's token with no request", async () => {
      const server = await startTestServer();
      try {
        const path = join(dir, "reuse", "tokens.json");
        const args = ["--path", path, "--token-url", server.tokenUrl];
        const first = await runFixture("file_get_token", args, credentials(server));
        assertSucceeded(first);
        assert.equal(server.tokenRequests, 1);
        const second = await runFixture("file_get_token", args, credentials(server));
        assertSucceeded(second);
        assert.equal(JSON.parse(lastLine(second)).token, JSON.parse(lastLine(first)).token);
        assert.equal(server.tokenRequests, 1);
      } finally {
        await server.close();
      }
    });

    await t.test("a holder killed while holding the lock blocks the others no longer than staleLockMs", async () => {
      const server = await startTestServer();
      const staleLockMs = 2_000;
      try {
        const path = join(dir, "killed", "tokens.json");
        const args = ["--path", path, "--token-url", server.tokenUrl, "--stale-lock-ms", String(staleLockMs)];
        const holder = startFixture("file_hold_lock", args, credentials(server));
        const holderDone = finished(holder, 90_000);
        await new Promise<void>((resolve, reject) => {
          let seen = "";
          holder.stdout?.on("data", (chunk: string) => (seen += chunk).includes("locked\n") && resolve());
          holder.on("close", () => reject(new Error("the holder exited before it held the lock")));
        });

        const goFile = join(dir, "go-killed");
        const waiters = Array.from(
          { length: 4 },
          () => startFixture("file_get_token", [...args, "--go-file", goFile], credentials(server)),
        );
        const waitersDone = waiters.map((child) => finished(child, 90_000));
        await Promise.all(waiters.map(readyLine));
        holder.kill("SIGKILL");
        await holderDone;
        await writeFile(goFile, "");
        const results = await Promise.all(waitersDone);

        results.forEach(assertSucceeded);
        const outputs = results.map((result) => JSON.parse(lastLine(result)));
        assert.deepEqual(outputs.flatMap((output) => output.errors), []);
        assert.equal(new Set(outputs.map((output) => output.token)).size, 1, JSON.stringify(outputs));
        assert.equal(server.tokenRequests, 1);
        const longest = Math.max(...outputs.map((output) => output.ms));
        // The lock was last refreshed at most staleLockMs / 3 before the kill.
        assert.ok(longest >= staleLockMs / 2, `the lock was not respected: ${longest} ms`);
        assert.ok(longest < staleLockMs + 10_000, `blocked for ${longest} ms`);
        t.diagnostic(`killed holder: waiters got the token after at most ${longest} ms (staleLockMs ${staleLockMs})`);
      } finally {
        await server.close();
      }
    });

    await t.test("8 processes writing different keys never show a torn file and lose no key", async () => {
      const cacheDir = join(dir, "writers");
      const path = join(cacheDir, "tokens.json");
      const writers = 8;
      const count = 15;
      let reading = true;
      let reads = 0;
      const reader = (async () => {
        while (reading) {
          const text = await readFile(path, "utf8").catch(() => undefined);
          if (text !== undefined) {
            JSON.parse(text); // throws on a torn file
            reads++;
          }
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      let results: FixtureResult[];
      try {
        results = await runTogether(
          writers,
          "file_write_keys",
          (i) => ["--path", path, "--writer", String(i), "--count", String(count)],
          {},
          dir,
        );
      } finally {
        reading = false;
        await reader;
      }
      results.forEach(assertSucceeded);
      assert.deepEqual(results.flatMap((result) => JSON.parse(lastLine(result)).errors), []);
      const tokens = JSON.parse(await readFile(path, "utf8")).tokens;
      assert.equal(Object.keys(tokens).length, writers * count);
      for (let w = 0; w < writers; w++) {
        for (let i = 0; i < count; i++) assert.equal(tokens[`writer-${w}/key-${i}`]?.accessToken, `token-${w}-${i}`);
      }
      assert.ok(reads > 0);
      assert.deepEqual(await leftovers(cacheDir), ["tokens.json"]);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

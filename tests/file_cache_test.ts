import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { closeSync, constants, openSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createClient } from "@propq/auth";
import { FileCache } from "@propq/auth/file";
import { startTestServer, type TestServer, verifyTokenCache } from "@propq/auth/testing";
import { finished, type FixtureResult, ready, runFixture, startFixture } from "./_process.ts";
import { userCacheDir } from "../src/adapters/_file_io.ts";
import { guardPath } from "../src/adapters/_file_lock.ts";
import { ALL_CHECKS } from "./_cache_checks.ts";

const HOUR = 3_600_000;
const isWindows = process.platform === "win32";
const isRoot = process.getuid?.() === 0;
const isDeno = "Deno" in globalThis;
// The issue's own scenario (Retry-After: 30, default options) takes about a minute per fleet: opt in (CI does).
// Not on Bun, whose runner stops any test after its --timeout.
const slow = process.env.PROPQ_AUTH_SLOW_TESTS !== "1"
  ? "set PROPQ_AUTH_SLOW_TESTS=1 to run the issue's 30 s scenario with default options (about 70 s)"
  : "Bun" in globalThis
  ? "a minute-long test: run on Deno and Node"
  : false;

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

/** Starts `count` fixtures, waits until all are loaded, then lets them go at the same moment. */
async function runTogether(
  count: number,
  name: string,
  args: (index: number) => string[],
  env: Record<string, string>,
  dir: string,
  timeoutMs = 90_000,
): Promise<FixtureResult[]> {
  const goFile = join(dir, `go-${name}-${randomUUID()}`);
  const children = Array.from({ length: count }, (_, i) => startFixture(name, [...args(i), "--go-file", goFile], env));
  const results = children.map((child) => finished(child, timeoutMs));
  try {
    await Promise.all(children.map(ready));
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

/** Resolves once `check` returns true; fails after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The token file's text once it holds `count` tokens: clients no longer wait for the cache write. */
async function tokensWritten(path: string, count = 1): Promise<string> {
  let text = "";
  await eventually(async () => {
    text = await readFile(path, "utf8").catch(() => "");
    try {
      return Object.keys(JSON.parse(text).tokens).length >= count;
    } catch {
      return false;
    }
  });
  return text;
}

/** Settles like `promise`, or rejects once `ms` have passed: a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function codeOf(error: Error | undefined): string | undefined {
  return (error?.cause as { code?: string } | undefined)?.code;
}

/** Files next to the token file: no lock or temporary file may be left behind. */
async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith("go-")).sort();
}

test("FileCache passes verifyTokenCache, lock checks included", async () => {
  const dir = await tempDir();
  const path = join(dir, "tokens.json");
  try {
    const passed = await verifyTokenCache(() => new FileCache(path, { staleLockMs: 1_000 }), {
      // What a holder that died leaves behind: its lock file, touched one last time.
      abandonLock: async (key) => {
        const name = createHash("sha256").update(key).digest("hex").slice(0, 16);
        await writeFile(`${path}.${name}.lock`, "a dead holder", { flag: "wx" });
      },
      corrupt: () => writeFile(path, "\u0000 not JSON"),
      takeoverMs: 10_000,
    });
    assert.deepEqual(passed, ALL_CHECKS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
    const text = await tokensWritten(path);
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
    const file = JSON.parse(await tokensWritten(path, 3));
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
        assert.equal(JSON.parse(await tokensWritten(path)).format, "propq-auth/tokens");
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

test("FileCache warns on stderr once per problem when no onError is given, labelled for the runtime", {
  skip: isWindows,
}, async () => {
  const dir = await tempDir();
  try {
    const result = await runFixture("file_warn", [dir]);
    assertSucceeded(result);
    const lines = result.stderr.split("\n").filter((line) => line.includes("FileCache"));
    assert.equal(lines.length, 2, result.stderr);
    const [fault, directory] = lines;
    assert.match(fault, /FileCache cannot (read|write|lock) .*a-file/);
    assert.match(directory, /FileCache directory .*shared is writable by other users \(mode 0777\)/);
    if (isDeno) {
      // Deno labels process.emitWarning "(node:PID)": FileCache writes its own line there.
      assert.ok(lines.every((line) => line.startsWith("Warning: propq-auth FileCache ")), result.stderr);
      assert.doesNotMatch(result.stderr, /\(node:\d+\)/);
    } else {
      for (const line of lines) {
        assert.match(line, /^\(node:\d+\) \[PROPQ_AUTH_FILE_CACHE\] PropQAuthWarning: FileCache /);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache refuses bad arguments with TypeError and RangeError", async () => {
  assert.throws(() => new FileCache(""), TypeError);
  assert.throws(() => new FileCache(42 as unknown as string), TypeError);
  assert.throws(() => new FileCache(undefined, { onError: "log" as unknown as () => void }), TypeError);
  // 2^31 ms and more overflow a timer, which then fires at once: the renewal would spin.
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 1e12]) {
    assert.throws(() => new FileCache(undefined, { staleLockMs: bad }), RangeError);
    assert.throws(() => new FileCache(undefined, { lockTimeoutMs: bad }), RangeError);
  }
  assert.ok(new FileCache(undefined, { staleLockMs: 2 ** 31 - 1, lockTimeoutMs: 2 ** 31 - 1 }));
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
      await writeFile(guardPath(lockFile, 0), "a dead waiter");
      await utimes(guardPath(lockFile, 0), then, then);
      const release = await new FileCache(path, { staleLockMs: 5_000, onError: (e) => assert.fail(e) }).lock("k");
      await release();
      assert.deepEqual(await readdir(dir), []);
    });

    await t.test("even when its mtime lies in the future (the clock was set back), once it stayed unchanged", async () => {
      const lockFile = await deadHolder(0);
      const future = new Date(Date.now() + HOUR);
      await utimes(lockFile, future, future);
      const started = Date.now();
      const release = await new FileCache(path, { staleLockMs: 500, onError: (e) => assert.fail(e) }).lock("k");
      const waited = Date.now() - started;
      assert.ok(waited < 10_000, `waited ${waited} ms`);
      await release();
      assert.deepEqual(await readdir(dir), []);
    });

    await t.test("never while its holder refreshes it, even when the clock was set back", async () => {
      const release = await new FileCache(path, { staleLockMs: 600 }).lock("k");
      const [name] = await readdir(dir);
      const holderId = await readFile(join(dir, name), "utf8");
      // The holder's last refresh an hour ahead of now: what setting the clock back an hour leaves behind.
      const future = new Date(Date.now() + HOUR);
      await utimes(join(dir, name), future, future);
      const errors: Error[] = [];
      const waiter = new FileCache(path, { staleLockMs: 600, lockTimeoutMs: 1_500, onError: (e) => errors.push(e) });
      const giveUp = await waiter.lock("k");
      assert.equal(codeOf(errors[0]), "ETIMEDOUT", `the waiter took the live holder's lock: ${errors[0]}`);
      assert.equal(await readFile(join(dir, name), "utf8"), holderId, "the holder still holds its lock");
      await giveUp();
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
        await Promise.all(waiters.map(ready));
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

/** Answers the next token requests with two 429s naming `retryAfterS`, then with a token after `delayMs`. */
function scriptRateLimit(server: TestServer, retryAfterS: number, delayMs: number): string {
  const limited = {
    status: 429,
    headers: { "retry-after": String(retryAfterS) },
    body: { error: "too_many_requests" },
  };
  const token = `fleet-${randomUUID()}`;
  server.scriptToken(limited, limited, {
    body: { token_type: "Bearer", access_token: token, expires_in: 3600 },
    delayMs,
  });
  return token;
}

/** When each token request arrived, in seconds after `started`. */
function requestTimes(server: TestServer, started: number): string {
  return server.requests.filter((request) => request.path.startsWith("/oauth/token"))
    .map((request) => `${((request.receivedAt - started) / 1000).toFixed(1)} s`).join(", ");
}

test("FileCache: 5 processes starting cold while the endpoint answers 429 with Retry-After make one token request", {
  timeout: 300_000,
}, async (t) => {
  const dir = await tempDir();
  /** The holder waits out two Retry-Afters while the others wait for its lock: 2 refusals, then 1 token. */
  const fleet = async (label: string, retryAfterS: number, delayMs: number, options: string[], timeoutMs: number) => {
    const server = await startTestServer();
    try {
      const token = scriptRateLimit(server, retryAfterS, delayMs);
      const path = join(dir, label, "tokens.json");
      const started = Date.now();
      const results = await runTogether(
        5,
        "file_get_token",
        () => ["--path", path, "--token-url", server.tokenUrl, ...options],
        credentials(server),
        dir,
        timeoutMs,
      );
      const elapsed = Date.now() - started;
      results.forEach(assertSucceeded);
      const outputs = results.map((result) => JSON.parse(lastLine(result)));
      const took = outputs.map((output) => output.ms).join(", ");
      t.diagnostic(
        `${label}: ${server.tokenRequests} token requests from 5 processes at ${requestTimes(server, started)}; ` +
          `getToken() took ${took} ms; all exited after ${elapsed} ms`,
      );
      assert.deepEqual(outputs.flatMap((output) => output.errors), []);
      assert.deepEqual(outputs.map((output) => output.token), Array(5).fill(token));
      assert.equal(server.tokenRequests, 3, "the holder's 429, 429, 200 and nothing else");
      assert.ok(elapsed >= 2 * retryAfterS * 1000);
    } finally {
      await server.close();
    }
  };
  try {
    await t.test("Retry-After: 3, with every timing a tenth of its default", async () => {
      const options = ["--timeout-ms", "1000", "--stale-lock-ms", "3000", "--lock-timeout-ms", "12000"];
      await fleet("scaled", 3, 300, options, 60_000);
    });
    await t.test("Retry-After: 30, with default options", { skip: slow }, async () => {
      await fleet("full", 30, 3_000, [], 150_000);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Lets a reader blocked in open() on the FIFO at `path` go on (old code blocks there). */
function unblockFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody is blocked reading it.
  }
}

test("FileCache reads only a regular file of at most 1 MiB, without following symlinks or blocking", {
  skip: isWindows,
}, async (t) => {
  const dir = await tempDir();
  const planted = JSON.stringify({
    format: "propq-auth/tokens",
    version: 1,
    tokens: { k: { accessToken: "planted", expiresAt: Date.now() + HOUR } },
  });
  const token = { accessToken: "abc", expiresAt: Date.now() + HOUR };
  const reporting = () => {
    const errors: Error[] = [];
    return { errors, onError: (error: Error) => void errors.push(error) };
  };
  try {
    await t.test("a named pipe at the path: get() is a quick miss, reported once, and set() does not hang", async () => {
      const path = join(dir, "fifo.json");
      execFileSync("mkfifo", [path]);
      const { errors, onError } = reporting();
      const cache = new FileCache(path, { onError });
      try {
        const started = performance.now();
        assert.equal(await within(cache.get("k"), 5_000, "get()"), undefined);
        const getMs = performance.now() - started;
        assert.equal(await within(cache.get("k"), 5_000, "get()"), undefined);
        await within(cache.set("k", token), 10_000, "set()");
        assert.ok(getMs < 2_000, `get() took ${getMs} ms`);
        assert.equal(errors.length, 1);
        assert.equal(codeOf(errors[0]), "EFTYPE");
        assert.ok((await stat(path)).isFIFO(), "the pipe is left alone");
        t.diagnostic(`FIFO at the path: get() answered a miss in ${getMs.toFixed(1)} ms`);
      } finally {
        unblockFifo(path);
      }
    });

    await t.test("a named pipe at a lock path: lock() and set() go on without the lock, at once", async () => {
      const path = join(dir, "locked.json");
      const lockPath = `${path}.${createHash("sha256").update("k").digest("hex").slice(0, 16)}.lock`;
      execFileSync("mkfifo", [lockPath]);
      execFileSync("mkfifo", [`${path}.lock`]);
      const { errors, onError } = reporting();
      const cache = new FileCache(path, { onError });
      try {
        const started = performance.now();
        await (await within(cache.lock("k"), 5_000, "lock()"))();
        await within(cache.set("k", token), 5_000, "set()");
        assert.ok(performance.now() - started < 4_000);
        assert.equal(errors.length, 1);
        assert.equal(codeOf(errors[0]), "EFTYPE");
      } finally {
        unblockFifo(lockPath);
        unblockFifo(`${path}.lock`);
      }
    });

    await t.test("a symlink at the path is not followed: a miss, reported, and its target is left alone", async () => {
      const elsewhere = await tempDir();
      try {
        const target = join(elsewhere, "tokens.json");
        await writeFile(target, planted);
        const path = join(dir, "link.json");
        await symlink(target, path);
        const { errors, onError } = reporting();
        const cache = new FileCache(path, { onError });
        assert.equal(await cache.get("k"), undefined);
        await cache.set("other", token);
        assert.equal(await readFile(target, "utf8"), planted);
        assert.equal(errors.length, 1);
        assert.equal(codeOf(errors[0]), "ELOOP");
      } finally {
        await rm(elsewhere, { recursive: true, force: true });
      }
    });

    await t.test("a file over 1 MiB is a miss and is not parsed, even when it holds a valid token", async () => {
      const path = join(dir, "big.json");
      const text = `${planted.slice(0, -1)}${" ".repeat(2 * 1024 * 1024)}}`;
      await writeFile(path, text);
      const { errors, onError } = reporting();
      const cache = new FileCache(path, { onError });
      assert.equal(await cache.get("k"), undefined);
      await cache.set("other", token);
      assert.equal((await stat(path)).size, text.length, "not overwritten: it is not ours");
      assert.equal(errors.length, 1);
      assert.equal(codeOf(errors[0]), "EFBIG");
    });

    await t.test("a file of exactly 1 MiB is read", async () => {
      const path = join(dir, "limit.json");
      await writeFile(path, `${planted.slice(0, -1)}${" ".repeat(1024 * 1024 - planted.length)}}`);
      assert.equal((await stat(path)).size, 1024 * 1024);
      const cache = new FileCache(path, { onError: (error) => assert.fail(error) });
      assert.equal((await cache.get("k"))?.accessToken, "planted");
    });

    await t.test("10 MB of deeply nested JSON costs no parsing", async () => {
      const path = join(dir, "nested.json");
      await writeFile(path, `${"[".repeat(5_000_000)}${"]".repeat(5_000_000)}`);
      const { errors, onError } = reporting();
      const started = performance.now();
      assert.equal(await new FileCache(path, { onError }).get("k"), undefined);
      const ms = performance.now() - started;
      assert.ok(ms < 1_000, `took ${ms} ms`);
      assert.equal(codeOf(errors[0]), "EFBIG");
      t.diagnostic(`10 MB nested JSON: a miss in ${ms.toFixed(1)} ms`);
    });

    await t.test("a 127 MB file costs neither time nor memory", async () => {
      const path = join(dir, "huge.json");
      const handle = await open(path, "w");
      await handle.truncate(127 * 1024 * 1024);
      await handle.close();
      const { errors, onError } = reporting();
      const before = process.memoryUsage().rss;
      const started = performance.now();
      assert.equal(await new FileCache(path, { onError }).get("k"), undefined);
      const ms = performance.now() - started;
      const grewMb = (process.memoryUsage().rss - before) / 2 ** 20;
      assert.ok(ms < 1_000, `took ${ms} ms`);
      assert.ok(grewMb < 64, `memory grew by ${grewMb} MB`);
      assert.equal(codeOf(errors[0]), "EFBIG");
      t.diagnostic(`127 MB file: a miss in ${ms.toFixed(1)} ms, memory +${grewMb.toFixed(1)} MB`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache warns once about a directory other users can write to, and still works", {
  skip: isWindows,
}, async (t) => {
  const dir = await tempDir();
  try {
    for (
      const [mode, warned] of [[0o777, true], [0o770, true], [0o1777, true], [0o755, false], [0o700, false]] as const
    ) {
      const octal = mode.toString(8).padStart(4, "0");
      await t.test(`mode ${octal}: ${warned ? "one warning" : "none"}`, async () => {
        const cacheDir = join(dir, octal);
        await mkdir(cacheDir);
        await chmod(cacheDir, mode);
        const errors: Error[] = [];
        const cache = new FileCache(join(cacheDir, "tokens.json"), { onError: (error) => void errors.push(error) });
        await cache.set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR });
        assert.equal((await cache.get("k"))?.accessToken, "abc");
        await (await cache.lock("k"))();
        await cache.delete("k");
        assert.equal(errors.length, warned ? 1 : 0, errors.join("\n"));
        if (warned) {
          assert.match(errors[0].message, new RegExp(`${cacheDir} is writable by other users \\(mode ${octal}\\)`));
        }
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache.set() and delete() give up within seconds on a write lock someone keeps touching", async () => {
  const dir = await tempDir();
  const path = join(dir, "tokens.json");
  await writeFile(`${path}.lock`, "not ours");
  const touching = setInterval(() => {
    const now = new Date();
    utimes(`${path}.lock`, now, now).catch(() => {});
  }, 100);
  try {
    const errors: Error[] = [];
    const cache = new FileCache(path, { onError: (error) => void errors.push(error) });
    const started = performance.now();
    await within(cache.set("k", { accessToken: "abc", expiresAt: Date.now() + HOUR }), 15_000, "set()");
    const setMs = performance.now() - started;
    await within(cache.delete("k"), 15_000, "delete()");
    assert.ok(setMs < 8_000, `set() took ${setMs} ms`);
    assert.equal(errors.length, 1);
    assert.equal(codeOf(errors[0]), "ETIMEDOUT");
    assert.equal(await cache.get("k"), undefined);
  } finally {
    clearInterval(touching);
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache removes the temporary files a killed writer left behind", { timeout: 180_000 }, async (t) => {
  const dir = await tempDir();
  const aged = async (file: string) => {
    const then = new Date(Date.now() - 60_000);
    await utimes(file, then, then);
  };
  try {
    await t.test("on the next write: stale ones of its exact name only", async () => {
      const cacheDir = join(dir, "planted");
      await mkdir(cacheDir);
      const path = join(cacheDir, "tokens.json");
      const orphan = `${path}.${randomUUID()}.tmp`;
      await writeFile(orphan, JSON.stringify({ tokens: { k: { accessToken: "live", expiresAt: Date.now() + HOUR } } }));
      await aged(orphan);
      const fresh = `${path}.${randomUUID()}.tmp`;
      await writeFile(fresh, "a write in progress");
      const others = [`${path}.not-a-uuid.tmp`, join(cacheDir, `other.json.${randomUUID()}.tmp`), `${orphan}.bak`];
      for (const other of others) {
        await writeFile(other, "");
        await aged(other);
      }
      const folder = `${path}.${randomUUID()}.tmp`;
      await mkdir(folder);
      await aged(folder);

      await new FileCache(path, { onError: (error) => assert.fail(error) }).set("k", {
        accessToken: "new",
        expiresAt: Date.now() + HOUR,
      });
      const names = await readdir(cacheDir);
      assert.ok(!names.includes(orphan.slice(cacheDir.length + 1)), "the orphan is gone");
      for (const kept of [fresh, folder, ...others]) assert.ok(names.includes(kept.slice(cacheDir.length + 1)), kept);
    });

    await t.test("a real writer killed mid-write", async () => {
      let kills = 0;
      let orphan: string | undefined;
      let cacheDir = "";
      while (orphan === undefined && kills < 20) {
        cacheDir = join(dir, `killed-${kills}`);
        const writer = startFixture("file_write_loop", ["--path", join(cacheDir, "tokens.json")]);
        const done = finished(writer, 60_000);
        await new Promise<void>((resolve) => {
          writer.stdout?.on("data", (chunk: string) => chunk.includes("writing") && resolve());
          writer.on("close", () => resolve());
        });
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 300));
        writer.kill("SIGKILL");
        assert.equal((await done).code, null, "killed, not exited");
        kills++;
        orphan = (await readdir(cacheDir)).find((name) => name.endsWith(".tmp"));
      }
      assert.ok(orphan !== undefined, `no kill out of ${kills} left a temporary file`);
      const orphanPath = join(cacheDir, orphan);
      await aged(orphanPath); // a minute later
      const path = join(cacheDir, "tokens.json");
      const started = performance.now();
      // The killed writer's write lock is still there: set() takes it over (2 s), then sweeps.
      await new FileCache(path, { onError: (error) => assert.fail(error) }).set("k", {
        accessToken: "new",
        expiresAt: Date.now() + HOUR,
      });
      const ms = performance.now() - started;
      assert.deepEqual(await leftovers(cacheDir), ["tokens.json"]);
      t.diagnostic(`${kills} kill(s) to leave ${orphan}; the next set() removed it in ${ms.toFixed(0)} ms`);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FileCache.lock() lets one process in at a time, past a dead holder's lock and a dead waiter's guard", {
  timeout: 120_000,
}, async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "tokens.json");
    const release = await new FileCache(path).lock("k");
    const [name] = await readdir(dir);
    await release();
    const lockFile = join(dir, name);
    const then = new Date(Date.now() - 10_000);
    for (const [file, text] of [[lockFile, "a dead holder"], [guardPath(lockFile, 0), "a dead waiter"]]) {
      await writeFile(file, text);
      await utimes(file, then, then);
    }
    const log = join(dir, "turns.log");
    const processes = 6;
    const turns = 3;
    const results = await runTogether(
      processes,
      "file_lock_turns",
      () => ["--path", path, "--log", log, "--turns", String(turns), "--stale-lock-ms", "5000"],
      {},
      dir,
    );
    results.forEach(assertSucceeded);
    assert.deepEqual(results.flatMap((result) => JSON.parse(lastLine(result)).errors), []);
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    assert.equal(lines.length, 2 * processes * turns);
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, leave] = [lines[i].split(" "), lines[i + 1].split(" ")];
      assert.deepEqual([enter[0], leave[0], leave[1]], ["in", "out", enter[1]], `overlap at line ${i + 1}`);
    }
    assert.deepEqual(await leftovers(dir), ["turns.log"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

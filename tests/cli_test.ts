// The `propq-auth` command as users run it: a separate process (Deno: the sources; Node and Bun: the
// built package's bin) against the bundled PropQ server, with its token cache in a temporary directory.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import type { TestServerOptions } from "@propq/auth/testing";
import { type CliSession, runCli, withCliSession } from "./fixtures/cli_spawn.ts";

const SECRET = "S3cret-never-printed-7f3a";
const onNode = !("Deno" in globalThis) && !("Bun" in globalThis);

interface Cli extends Omit<CliSession, "run"> {
  cli: CliSession["run"];
}

function withCli(body: (cli: Cli) => Promise<void>, server: TestServerOptions = {}): Promise<void> {
  return withCliSession(SECRET, ({ run, ...session }) => body({ ...session, cli: run }), { server });
}

describe("propq-auth token", () => {
  test("prints the bare token and a newline on stdout, nothing on stderr", () =>
    withCli(async ({ server, cli }) => {
      const { code, stdout, stderr } = await cli(["token"]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, `${server.issuedTokens[0]}\n`);
      assert.equal(stderr, "");
    }));

  test("20 runs in a row make 1 token request: the token cache file is written before each run ends", () =>
    withCli(async ({ server, cli, dir }) => {
      const outputs = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const { code, stdout, stderr } = await cli(["token"]);
        assert.equal(code, 0, stderr);
        outputs.add(stdout);
      }
      assert.equal(server.tokenRequests, 1);
      assert.deepEqual([...outputs], [`${server.issuedTokens[0]}\n`]);
      const file = join(dir, "propq-auth", "tokens.json");
      assert.ok(readFileSync(file, "utf8").includes(server.issuedTokens[0]));
      assert.ok(!readFileSync(file, "utf8").includes(SECRET));
      if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);
    }));

  test("--json prints access_token, token_type, expires_in (seconds left) and expires_at (epoch seconds)", () =>
    withCli(async ({ server, cli }) => {
      const before = Math.floor(Date.now() / 1000);
      const { code, stdout } = await cli(["token", "--json"]);
      assert.equal(code, 0);
      const body = JSON.parse(stdout);
      assert.deepEqual(Object.keys(body), ["access_token", "token_type", "expires_in", "expires_at"]);
      assert.equal(body.access_token, server.issuedTokens[0]);
      assert.equal(body.token_type, "Bearer");
      assert.ok(Number.isInteger(body.expires_in) && body.expires_in > 7100 && body.expires_in <= 7200, stdout);
      assert.ok(Number.isInteger(body.expires_at) && Math.abs(body.expires_at - (before + 7200)) <= 5, stdout);
    }, { expiresIn: 7200 }));

  test("--header prints an Authorization header line for curl -H", () =>
    withCli(async ({ server, cli }) => {
      const { code, stdout } = await cli(["token", "--header"]);
      assert.equal(code, 0);
      assert.equal(stdout, `Authorization: Bearer ${server.issuedTokens[0]}\n`);
    }));

  test("--force asks for a new token, and later runs get that one from the cache", () =>
    withCli(async ({ server, cli }) => {
      await cli(["token"]);
      const forced = await cli(["token", "--force"]);
      const after = await cli(["token"]);
      assert.equal(server.tokenRequests, 2);
      assert.equal(forced.stdout, `${server.issuedTokens[1]}\n`);
      assert.equal(after.stdout, forced.stdout);
    }));

  test("--no-cache keeps the token in memory: every run asks, no cache file is written", () =>
    withCli(async ({ server, cli, dir }) => {
      await cli(["token", "--no-cache"]);
      await cli(["--no-cache", "token"]);
      assert.equal(server.tokenRequests, 2);
      assert.throws(() => statSync(join(dir, "propq-auth", "tokens.json")), { code: "ENOENT" });
    }));

  test("--env-file supplies the variables; variables already set win", () =>
    withCli(async ({ server, cli, dir, env }) => {
      const file = join(dir, ".env");
      await writeFile(file, `PROPQ_CLIENT_ID=${server.clientId}\nPROPQ_CLIENT_SECRET="${SECRET}"\n`);
      const { PROPQ_CLIENT_ID: _, PROPQ_CLIENT_SECRET: __, ...rest } = env;
      const fromFile = await runCli(["token", "--env-file", file], { env: rest });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      await writeFile(file, `PROPQ_CLIENT_SECRET=wrong-secret\n`);
      const envWins = await cli(["--env-file", file, "token", "--force"]);
      assert.equal(envWins.code, 0, envWins.stderr);
      assert.equal(server.tokenRequests, 2);
    }));

  test("a missing --env-file is a usage error naming the file", () =>
    withCli(async ({ server, cli, dir }) => {
      const { code, stdout, stderr } = await cli(["token", "--env-file", join(dir, "nope.env")]);
      assert.equal(stdout, "");
      assert.equal(server.tokenRequests, 0);
      if (onNode) {
        // Node itself checks a script's --env-file argument before the script starts (nodejs/node#54232).
        assert.equal(code, 9);
        assert.match(stderr, /nope\.env: not found/);
        return;
      }
      assert.equal(code, 2);
      assert.match(stderr, /--env-file .*nope\.env: no such file/);
      assert.match(stderr, /USAGE\n {2}propq-auth token/);
    }));

  test("missing credentials: exit 1 naming the variable and how to set it, nothing sent", () =>
    withCli(async ({ server, cli }) => {
      const { code, stderr } = await cli(["token"], { env: { PROPQ_CLIENT_ID: "" } });
      assert.equal(code, 1);
      assert.match(
        stderr,
        /PROPQ_CLIENT_ID is not set: set it in the environment, or in a file passed with --env-file/,
      );
      assert.equal(server.tokenRequests, 0);
    }));

  test("failures exit 1 with the reason and the fix, never the secret", async (t) => {
    await t.test("a refused secret", () =>
      withCli(async ({ cli }) => {
        const { code, stdout, stderr } = await cli(["token"], { env: { PROPQ_CLIENT_SECRET: `wrong-${SECRET}` } });
        assert.equal(code, 1);
        assert.equal(stdout, "");
        assert.match(stderr, /401 invalid_client\b.*\nFix: check PROPQ_CLIENT_ID and PROPQ_CLIENT_SECRET/s);
        assert.ok(!stderr.includes(`wrong-${SECRET}`));
      }));
    await t.test("a secret with a trailing space (a .env slip)", () =>
      withCli(async ({ cli }) => {
        const { code, stderr } = await cli(["token"], { env: { PROPQ_CLIENT_SECRET: `${SECRET} ` } });
        assert.equal(code, 1);
        assert.match(stderr, /PROPQ_CLIENT_SECRET: it has leading or trailing whitespace\nFix: /);
      }));
    await t.test("an unreachable token endpoint", () =>
      withCli(async ({ server, cli }) => {
        const url = new URL(server.tokenUrl);
        url.port = "9"; // discard: nothing listens there
        const { code, stderr } = await cli(["token", "--no-cache"], { env: { PROPQ_TOKEN_URL: url.href } });
        assert.equal(code, 1);
        assert.match(stderr, /Fix: check PROPQ_TOKEN_URL and the network connection/);
      }));
    await t.test("a token endpoint that answers 400 and echoes the request", () =>
      withCli(async ({ server, cli }) => {
        server.scriptToken({
          status: 400,
          body: { error: "invalid_request", message: `bad client_secret=${SECRET}`, hint: `got ${SECRET}` },
        });
        const { code } = await cli(["token"]);
        assert.equal(code, 1);
      }));
  });

  test("--json with --header is a usage error: exit 2, the usage on stderr, nothing sent", () =>
    withCli(async ({ server, cli }) => {
      const { code, stdout, stderr } = await cli(["token", "--json", "--header"]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /^propq-auth: --json and --header cannot be combined\n\nPrint an access token/);
      assert.equal(server.tokenRequests, 0);
    }));
});

describe("propq-auth api", () => {
  const route = "/v1/developments/1234/units/update-by-name";
  const unit = { UntName: "A-101", UntStatus: 4, UntPrice: 350000, UntDirections: ["South"] };

  test("GET by default: the body on stdout, exit 0", () =>
    withCli(async ({ server, cli }) => {
      server.scriptApi({ status: 200, body: { data: [{ UntName: "A-101" }] } });
      const { code, stdout, stderr } = await cli(["api", "/v1/developments/1234/units"]);
      assert.equal(code, 0, stderr);
      assert.deepEqual(JSON.parse(stdout), { data: [{ UntName: "A-101" }] });
      const request = server.requests.at(-1)!;
      assert.equal(request.method, "GET");
      assert.equal(request.headers.authorization, `Bearer ${server.issuedTokens[0]}`);
    }));

  test("-d sends the JSON as it is, with POST and a JSON Content-Type", () =>
    withCli(async ({ server, cli }) => {
      const data = JSON.stringify(unit);
      const { code, stdout } = await cli(["api", route, "-d", data]);
      assert.equal(code, 0);
      assert.equal(JSON.parse(stdout).success, true);
      const request = server.requests.at(-1)!;
      assert.equal(request.method, "POST");
      assert.equal(request.body, data);
      assert.match(request.headers["content-type"], /^application\/json/);
    }));

  test("-d @file and -d @- read the body from a file and from stdin", () =>
    withCli(async ({ server, cli, dir }) => {
      await writeFile(join(dir, "unit.json"), JSON.stringify(unit));
      assert.equal((await cli(["api", route, "-d", `@${join(dir, "unit.json")}`])).code, 0);
      assert.equal((await cli(["api", route, "-d", "@-"], { stdin: JSON.stringify(unit) })).code, 0);
      assert.deepEqual(server.requests.slice(-2).map((r) => JSON.parse(r.body)), [unit, unit]);
    }));

  test("-d that is not JSON is a usage error and nothing is sent, not even a token request", () =>
    withCli(async ({ server, cli }) => {
      const { code, stderr } = await cli(["api", route, "-d", "{UntName: A-101}"]);
      assert.equal(code, 2);
      assert.match(stderr, /-d is not valid JSON \(.*\); nothing was sent/);
      assert.match(stderr, /USAGE\n {2}propq-auth api/);
      assert.equal(server.requests.length, 0);
    }));

  test("-i prints the status line and headers, a blank line, then the body", () =>
    withCli(async ({ cli }) => {
      const { code, stdout } = await cli(["api", route, "-d", JSON.stringify(unit), "-i"]);
      assert.equal(code, 0);
      const [head, body] = stdout.split("\n\n");
      assert.match(head, /^HTTP 200 OK\n/);
      assert.match(head, /\ncontent-type: application\/json\n/);
      assert.equal(JSON.parse(body).unit.UntName, "A-101");
    }));

  test("a non-2xx answer: its body on stdout, exit 1, the status and its meaning on stderr", async (t) => {
    await t.test("422 validation errors", () =>
      withCli(async ({ cli }) => {
        const { code, stdout, stderr } = await cli(["api", route, "-d", JSON.stringify({ ...unit, UntStatus: 3 })]);
        assert.equal(code, 1);
        assert.deepEqual(JSON.parse(stdout).errors, { UntStatus: ["The selected unt status is invalid."] });
        assert.match(stderr, /PropQ API answered 422 .*validation failed/);
      }));
    await t.test("419 wrong method", () =>
      withCli(async ({ cli }) => {
        const { code, stderr } = await cli(["api", route, "-X", "put", "-d", "{}"]);
        assert.equal(code, 1);
        assert.match(stderr, /answered 419 .*check -X/);
      }));
  });

  test("usage errors: no path, -d with GET, a bad method; another origin is refused with the fix", () =>
    withCli(async ({ server, cli }) => {
      assert.match((await cli(["api"])).stderr, /missing <path>/);
      assert.equal((await cli(["api", route, "-X", "GET", "-d", "{}"])).code, 2);
      assert.equal((await cli(["api", route, "-X", "P OST"])).code, 2);
      const foreign = await cli(["api", "https://example.com/v1/x"]);
      assert.equal(foreign.code, 1);
      assert.match(foreign.stderr, /Fix: give a path such as/);
      assert.equal(server.apiRequests, 0);
    }));
});

describe("propq-auth help", () => {
  const pages: [string[], RegExp][] = [
    [["--help"], /^Tokens and calls for the PropQ API/],
    [["-h"], /^Tokens and calls/],
    [["help"], /^Tokens and calls/],
    [["token", "--help"], /^Print an access token/],
    [["help", "token"], /^Print an access token/],
    [["api", "-h"], /^Make one authenticated call/],
    [["units", "--help"], /^Work with the units/],
    [["units", "update", "--help"], /^Update many units/],
    [["help", "units"], /^Work with the units/],
  ];

  test("--help on every command: exit 0, on stdout, examples before flags, needs no credentials", async () => {
    for (const [args, first] of pages) {
      const { code, stdout, stderr } = await runCli(args, { env: {} });
      assert.equal(code, 0, `${args.join(" ")}: ${stderr}`);
      assert.match(stdout, first);
      assert.ok(stdout.indexOf("EXAMPLES") < stdout.indexOf("FLAGS"), args.join(" "));
      assert.equal(stderr, "");
    }
  });

  test("no command, an unknown command or flag: exit 2, the reason and the usage on stderr", async () => {
    const cases: [string[], RegExp][] = [
      [[], /^propq-auth: missing command\n\nTokens and calls/],
      [["tokens"], /^propq-auth: unknown command "tokens"\n\nTokens and calls/],
      [["token", "--jsn"], /^propq-auth: Unknown option '--jsn'.*\n\nPrint an access token/],
      [["units", "delete"], /^propq-auth: unknown command "delete"\n\nWork with the units/],
    ];
    for (const [args, expected] of cases) {
      const { code, stdout, stderr } = await runCli(args, { env: {} });
      assert.equal(code, 2, args.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, expected);
    }
  });
});

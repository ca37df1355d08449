// `propq-auth units update` as a separate process against the bundled PropQ server, with scripted
// 422/429/5xx answers; concurrency is measured at the server, by the requests it holds at once.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import type { RecordedRequest, TestServer } from "@propq/auth/testing";
import { type CliSession, finished, startCli, withCliSession } from "./fixtures/cli_spawn.ts";

const SECRET = "S3cret-units-never-printed";
const HEADER = "UntName,UntStatus,UntPrice,UntDirections";
const STATUS_NAMES = ["AVAILABLE", "hold", "Sold", "RESERVED"];

interface Unit {
  UntName: string;
  UntStatus: number;
  UntPrice: number;
  UntDirections: string[];
}

/** `count` units and the CSV a spreadsheet would export for them (BOM, CRLF, quoted cells). */
function spreadsheet(count: number): { units: Unit[]; csv: string } {
  const units: Unit[] = [];
  const lines = [HEADER];
  for (let i = 1; i <= count; i++) {
    const name = i % 50 === 7 ? `U-${i}, "corner"` : `U-${i}`;
    const status = [1, 2, 4, 8][i % 4];
    const price = 100000 + i * 1000 + (i % 3 === 0 ? 0.5 : 0);
    const directions = [["North"], ["South", "West"], [], ["East", "North", "South"]][i % 4];
    units.push({ UntName: name, UntStatus: status, UntPrice: price, UntDirections: directions });
    const cell = name.includes(",") ? `"${name.replaceAll('"', '""')}"` : name;
    const statusCell = i % 2 === 0 ? String(status) : STATUS_NAMES[i % 4];
    lines.push(`${cell},${statusCell},${price},${directions.join(i % 5 === 0 ? "|" : ";")}`);
  }
  return { units, csv: `\uFEFF${lines.join("\r\n")}\r\n` };
}

interface Run extends Omit<CliSession, "run"> {
  units: CliSession["run"];
}

function withUnits(body: (run: Run) => Promise<void>, apiDelayMs = 0): Promise<void> {
  return withCliSession(
    SECRET,
    ({ run, ...session }) => body({ ...session, units: (args, options) => run(["units", "update", ...args], options) }),
    { server: { apiDelayMs }, timeoutMs: 60_000 },
  );
}

const updates = (server: TestServer): RecordedRequest[] =>
  server.requests.filter((request) => request.path.endsWith("/units/update-by-name"));
const sentFor = (server: TestServer, name: string) =>
  updates(server).filter((request) => JSON.parse(request.body).UntName === name);
const byName = (a: Unit, b: Unit) => a.UntName < b.UntName ? -1 : 1;

describe("propq-auth units update sends a spreadsheet", () => {
  test("200 rows: never more than 4 in flight at the server, 1 token request, a report, a line per 10%", () =>
    withUnits(async ({ server, dir, units }) => {
      const { units: expected, csv } = spreadsheet(200);
      await writeFile(join(dir, "units.csv"), csv);
      const report = join(dir, "report.json");
      const { code, stdout, stderr } = await units(["1234", join(dir, "units.csv"), "--report", report]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, "");
      assert.equal(server.tokenRequests, 1);
      const sent = updates(server);
      assert.equal(sent.length, 200);
      assert.ok(sent.every((request) => request.path === "/v1/developments/1234/units/update-by-name"));
      assert.deepEqual(sent.map((request) => JSON.parse(request.body)).sort(byName), [...expected].sort(byName));
      assert.ok(server.maxApiInFlight <= 4, `${server.maxApiInFlight} in flight`);
      assert.ok(server.maxApiInFlight >= 2, `${server.maxApiInFlight} in flight: the rows were not sent in parallel`);
      const entries = JSON.parse(await readFile(report, "utf8"));
      assert.deepEqual(entries[0], { row: 2, UntName: "U-1", status: "ok", httpStatus: 200, error: null });
      assert.deepEqual(entries.map((entry: { row: number }) => entry.row), expected.map((_, i) => i + 2));
      assert.ok(entries.every((entry: { status: string }) => entry.status === "ok"));
      const percents = [
        ...stderr.matchAll(/^propq-auth: \d+\/200 rows \((\d+)%\), 0 failed, [\d.]+ rows\/s, ETA \S+$/gm),
      ];
      assert.deepEqual(percents.map((match) => Number(match[1])), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      assert.match(stderr, /^propq-auth: 200 rows in [\d.]+ s: 200 updated, 0 failed$/m);
    }, 15));

  test("--concurrency 16 lets up to 16 through, and no more", () =>
    withUnits(async ({ server, dir, units }) => {
      await writeFile(join(dir, "units.csv"), spreadsheet(120).csv);
      const { code, stderr } = await units(["1234", join(dir, "units.csv"), "--concurrency", "16"]);
      assert.equal(code, 0, stderr);
      assert.ok(server.maxApiInFlight <= 16 && server.maxApiInFlight > 4, `${server.maxApiInFlight} in flight`);
    }, 40));

  test("422 fails its row; 429 waits for Retry-After and succeeds; 5xx gives up after 4 attempts; exit 1", () =>
    withUnits(async ({ server, dir, units }) => {
      await writeFile(join(dir, "units.csv"), spreadsheet(40).csv);
      const body = (name: string) => (request: RecordedRequest) => JSON.parse(request.body).UntName === name;
      const invalid = { message: "The given data was invalid.", errors: { UntPrice: ["The unt price is too low."] } };
      server.scriptApiWhen(body("U-10"), { status: 422, body: invalid });
      server.scriptApiWhen(body("U-20"), { status: 429, headers: { "retry-after": "1" } });
      const outage = { status: 503, headers: { "retry-after": "0" }, body: { message: "Down" } };
      server.scriptApiWhen(body("U-30"), outage, outage, outage, outage);
      const report = join(dir, "report.json");
      const { code, stderr } = await units(["1234", join(dir, "units.csv"), "--report", report]);
      assert.equal(code, 1);
      assert.equal(updates(server).length, 40 + 1 + 3);
      const [limited, retried] = sentFor(server, "U-20");
      assert.ok(
        retried.receivedAt - limited.receivedAt >= 950,
        `retried after ${retried.receivedAt - limited.receivedAt} ms`,
      );
      assert.equal(sentFor(server, "U-30").length, 4);
      const entries = JSON.parse(await readFile(report, "utf8"));
      assert.deepEqual(entries.filter((entry: { status: string }) => entry.status === "failed"), [
        {
          row: 11,
          UntName: "U-10",
          status: "failed",
          httpStatus: 422,
          error:
            "PropQ API responded 422 to update-by-name, validation failed: The given data was invalid. (UntPrice: The unt price is too low.)",
        },
        {
          row: 31,
          UntName: "U-30",
          status: "failed",
          httpStatus: 503,
          error: "PropQ API responded 503 to update-by-name, server error: Down (4 attempts)",
        },
      ]);
      assert.match(stderr, /^propq-auth: 40 rows in [\d.]+ s: 38 updated, 2 failed$/m);
      assert.match(stderr, /^ {2}line 11 \(U-10\): PropQ API responded 422 .*too low/m);
      assert.match(stderr, /^ {2}line 31 \(U-30\): PropQ API responded 503 .*\(4 attempts\)$/m);
      assert.match(
        stderr,
        /re-send only the failed rows with: propq-auth units update 1234 \S+units\.csv --only-failed/,
      );
    }));

  test("--only-failed re-sends just the failed rows, and --report on the same file updates it in place", () =>
    withUnits(async ({ server, dir, units }) => {
      const file = join(dir, "units.csv");
      await writeFile(file, spreadsheet(30).csv);
      const report = join(dir, "report.json");
      const outage = Array(4).fill({ status: 500, headers: { "retry-after": "0" } });
      server.scriptApiWhen((request) => request.body.includes('"U-4"'), ...outage);
      server.scriptApiWhen((request) => request.body.includes('"U-17"'), ...outage);
      const first = await units(["1234", file, "--report", report]);
      assert.equal(first.code, 1);
      const failed = JSON.parse(await readFile(report, "utf8")).filter((e: { status: string }) =>
        e.status === "failed"
      );
      assert.deepEqual(failed.map((entry: { UntName: string }) => entry.UntName), ["U-4", "U-17"]);
      const before = updates(server).length;
      const again = await units(["1234", file, "--only-failed", report, "--report", report]);
      assert.equal(again.code, 0, again.stderr);
      const resent = updates(server).slice(before).map((request) => JSON.parse(request.body).UntName).sort();
      assert.deepEqual(resent, failed.map((entry: { UntName: string }) => entry.UntName).sort());
      const entries = JSON.parse(await readFile(report, "utf8"));
      assert.equal(entries.length, 30);
      assert.ok(entries.every((entry: { status: string }) => entry.status === "ok"));
      await writeFile(file, spreadsheet(30).csv.replace("U-4,", "U-4b,"));
      await writeFile(report, JSON.stringify([{ ...entries[3], status: "failed" }]));
      const edited = await units(["1234", file, "--only-failed", report]);
      assert.equal(edited.code, 2);
      assert.match(edited.stderr, /row 5 is "U-4" in the report but "U-4b" in \S+; was the file edited since\?/);
    }));
});

describe("propq-auth units update checks every row before sending any", () => {
  test("all problems listed with their line, exit 2, nothing sent, not even a token request", () =>
    withUnits(async ({ server, dir, units }) => {
      const csv = `${HEADER}\nA-1,SOLD,350000,"North\nEast"\nA-2,SOLDD,1,\nA-3,4,"350,000",\nA-1,1,1,\n`;
      await writeFile(join(dir, "units.csv"), csv);
      const { code, stdout, stderr } = await units(["1234", join(dir, "units.csv")]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /units\.csv: 3 problems; nothing was sent\n/);
      assert.match(
        stderr,
        /\n {2}line 4: UntStatus "SOLDD" is not a status: use 1 AVAILABLE, 2 HOLD, 4 SOLD, 8 RESERVED/,
      );
      assert.match(stderr, /\n {2}line 5: UntPrice "350,000" looks like it has a thousands separator: write 350000\n/);
      assert.match(stderr, /\n {2}line 6: UntName "A-1" is also on line 2/);
      assert.match(stderr, /\nusage: propq-auth units update <developmentId> <file>/);
      assert.equal(server.requests.length, 0);
    }));

  test("--dry-run prints each update as a JSON line, sends nothing, needs no credentials", () =>
    withUnits(async ({ server, dir, units }) => {
      const { units: expected, csv } = spreadsheet(12);
      await writeFile(join(dir, "units.csv"), csv);
      const noCredentials = { PROPQ_CLIENT_ID: "", PROPQ_CLIENT_SECRET: "" };
      const { code, stdout, stderr } = await units(["1234", join(dir, "units.csv"), "--dry-run"], {
        env: noCredentials,
      });
      assert.equal(code, 0, stderr);
      assert.deepEqual(stdout.trim().split("\n").map((line) => JSON.parse(line)), expected);
      assert.match(
        stderr,
        /dry run: 12 valid rows would each be sent as POST http:\S+\/v1\/developments\/1234\/units\/update-by-name; nothing was sent/,
      );
      assert.equal(server.requests.length, 0);
    }));

  test("a JSON array file, and NDJSON on stdin (-)", () =>
    withUnits(async ({ server, dir, units }) => {
      const { units: expected } = spreadsheet(6);
      await writeFile(join(dir, "units.json"), JSON.stringify(expected));
      assert.equal((await units(["1234", join(dir, "units.json")])).code, 0);
      const ndjson = expected.map((unit) => JSON.stringify({ ...unit, UntName: `${unit.UntName}-b` })).join("\n");
      assert.equal((await units(["1234", "-"], { stdin: ndjson })).code, 0);
      assert.equal(updates(server).length, 12);
      assert.equal(server.tokenRequests, 1); // the second run read the token from the cache file
    }));

  test("usage errors: exit 2 with the reason and the usage, nothing sent", () =>
    withUnits(async ({ server, dir, units }) => {
      const file = join(dir, "units.csv");
      await writeFile(file, spreadsheet(2).csv);
      await writeFile(
        join(dir, "latin1.csv"),
        new Uint8Array([...new TextEncoder().encode(`${HEADER}\nA-`), 0xf1, 0x0a]),
      );
      const cases: [string[], RegExp][] = [
        [["abc", file], /developmentId must be a positive integer such as 1234, got "abc"/],
        [["0", file], /developmentId must be a positive integer/],
        [["1234"], /missing <file>/],
        [["1234", file, "--concurrency", "0"], /--concurrency must be an integer from 1 to 64, got "0"/],
        [["1234", file, "--concurrency", "65"], /--concurrency must be an integer from 1 to 64/],
        [["1234", file, "--concurrency", "2.5"], /--concurrency must be an integer from 1 to 64/],
        [["1234", join(dir, "nope.csv")], /nope\.csv: no such file/],
        [["1234", join(dir, "latin1.csv")], /latin1\.csv is not UTF-8 text: save it as "CSV UTF-8"/],
        [["1234", file, "--only-failed", file], /--only-failed \S+: not a report written by --report/],
        [["1234", file, "--report", join(dir, "no", "such", "dir", "r.json")], /--report \S+: cannot write in/],
      ];
      for (const [args, message] of cases) {
        const { code, stderr } = await units(args);
        assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
        assert.match(stderr, message);
        assert.match(stderr, /USAGE\n {2}propq-auth units update/);
      }
      assert.equal(server.requests.length, 0);
    }));

  test("refused credentials fail the run once, before any row is sent", () =>
    withUnits(async ({ server, dir, units }) => {
      await writeFile(join(dir, "units.csv"), spreadsheet(20).csv);
      const wrong = { PROPQ_CLIENT_SECRET: "wrong-secret" };
      const { code, stderr } = await units(["1234", join(dir, "units.csv")], { env: wrong });
      assert.equal(code, 1);
      assert.equal(stderr.match(/invalid_client/g)?.length, 1);
      assert.equal(server.apiRequests, 0);
    }));
});

describe("propq-auth units update on Ctrl-C", () => {
  test("stops sending, finishes the rows in flight, writes the report (unsent rows failed), exits 130", () =>
    withUnits(async ({ server, dir, env }) => {
      await writeFile(join(dir, "units.csv"), spreadsheet(60).csv);
      const report = join(dir, "report.json");
      const child = startCli([
        "units",
        "update",
        "1234",
        join(dir, "units.csv"),
        "--report",
        report,
        "--concurrency",
        "2",
      ], {
        env,
      });
      const done = finished(child, 60_000);
      for (let i = 0; i < 600 && server.apiRequests < 6; i++) await new Promise((r) => setTimeout(r, 10));
      // Not child.kill(): Deno's node:child_process then reports the signal instead of the exit code.
      process.kill(child.pid!, "SIGINT");
      const { code, stderr } = await done;
      assert.equal(code, 130, stderr);
      assert.match(stderr, /interrupted: finishing the rows in flight, sending no more/);
      const entries = JSON.parse(await readFile(report, "utf8"));
      assert.equal(entries.length, 60);
      const ok = entries.filter((entry: { status: string }) => entry.status === "ok").length;
      assert.equal(ok, updates(server).length);
      assert.ok(ok >= 6 && ok < 60, `${ok} rows were sent`);
      assert.ok(entries.slice(ok).every((entry: { error: string }) => entry.error === "not sent: interrupted"));
    }, 100));
});

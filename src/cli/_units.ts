/**
 * `propq-auth units update`: bulk `updateUnitByName` from a spreadsheet's
 * CSV, a JSON array or NDJSON. Every row is checked before any is sent; the
 * rows go out a few at a time with retries; a report lists each row's fate,
 * and `--only-failed` re-sends just the failed ones.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { updateUnitByName } from "../../mod.ts";
import { noMoreArguments, parseCommand } from "./_args.ts";
import { baseUrl, loadEnvFiles, openClient } from "./_client.ts";
import type { Io } from "./_io.ts";
import { UsageError } from "./_io.ts";
import { progress } from "./_progress.ts";
import { checkWritable, readReport, type ReportEntry, writeReport } from "./_report.ts";
import { formatOf, readRows, type Row } from "./_rows.ts";
import { NetworkError, type Outcome, sendAll } from "./_send.ts";
import { UNITS_USAGE, UPDATE_SYNOPSIS, UPDATE_USAGE } from "./_units_help.ts";

const OPTIONS = {
  "dry-run": { type: "boolean" },
  concurrency: { type: "string" },
  report: { type: "string" },
  "only-failed": { type: "string" },
} as const;

/** `a b` → `'a b'`: a path as the user can paste it back into a shell. */
function shell(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

async function readInput(file: string, io: Io): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = file === "-" ? await io.readStdin() : await readFile(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UsageError(`${file}: ${code === "ENOENT" ? "no such file" : `cannot read it (${code})`}`, UPDATE_USAGE);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(
      `${file} is not UTF-8 text: save it as "CSV UTF-8" (Excel) or with the "Unicode (UTF-8)" character set (LibreOffice)`,
      UPDATE_USAGE,
    );
  }
}

/** Keeps the rows a previous report lists as failed, checking they are still the same units. */
async function onlyFailed(rows: Row[], path: string, file: string): Promise<{ rows: Row[]; previous: ReportEntry[] }> {
  const previous = await readReport(path, UPDATE_USAGE);
  const byRow = new Map(rows.map((row) => [row.row, row]));
  const kept: Row[] = [];
  for (const entry of previous.filter((entry) => entry.status === "failed")) {
    const row = byRow.get(entry.row);
    if (row?.unit.UntName !== entry.UntName) {
      const found = row === undefined ? "no such row" : `"${row.unit.UntName}"`;
      throw new UsageError(
        `--only-failed ${path}: row ${entry.row} is "${entry.UntName}" in the report but ${found} in ${file}; ` +
          "was the file edited since? Re-send the whole file instead",
        UPDATE_USAGE,
      );
    }
    kept.push(row);
  }
  return { rows: kept, previous };
}

function summary(rows: Row[], outcomes: Outcome[], seconds: number, io: Io): void {
  const failed = rows.filter((_, i) => !outcomes[i].ok);
  io.err(`propq-auth: ${rows.length} rows in ${seconds.toFixed(1)} s: ${rows.length - failed.length} updated, `);
  io.err(`${failed.length} failed\n`);
  for (const row of failed.slice(0, 20)) {
    io.err(`  ${row.where} (${row.unit.UntName}): ${outcomes[rows.indexOf(row)].error}\n`);
  }
  if (failed.length > 20) io.err(`  … and ${failed.length - 20} more (see --report)\n`);
}

/** Runs `propq-auth units …`; resolves with the exit code. */
export async function units(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand(args, OPTIONS, UNITS_USAGE);
  const [subcommand, developmentId, file] = positionals;
  if (subcommand === undefined && values.help) {
    io.out(UNITS_USAGE);
    return 0;
  }
  if (subcommand !== "update") {
    throw new UsageError(
      subcommand === undefined ? "missing command: update" : `unknown command "${subcommand}"`,
      UNITS_USAGE,
    );
  }
  if (values.help) {
    io.out(UPDATE_USAGE);
    return 0;
  }
  if (developmentId === undefined || file === undefined) {
    throw new UsageError(`missing ${developmentId === undefined ? "<developmentId> and " : ""}<file>`, UPDATE_USAGE);
  }
  noMoreArguments(positionals, 3, UPDATE_USAGE);
  if (!/^[1-9]\d{0,14}$/.test(developmentId)) {
    throw new UsageError(`developmentId must be a positive integer such as 1234, got "${developmentId}"`, UPDATE_USAGE);
  }
  const concurrency = Number(values.concurrency ?? 4);
  if (!/^\d+$/.test(values.concurrency ?? "4") || concurrency < 1 || concurrency > 64) {
    throw new UsageError(`--concurrency must be an integer from 1 to 64, got "${values.concurrency}"`, UPDATE_USAGE);
  }
  const text = await readInput(file, io);
  let { rows, errors } = readRows(text, formatOf(file, text));
  if (errors.length > 0) {
    io.err(`propq-auth: ${file}: ${errors.length} problem${errors.length === 1 ? "" : "s"}; nothing was sent\n`);
    for (const error of errors) io.err(`  ${error}\n`);
    io.err(`Fix the rows and run again (--dry-run checks without sending).\n${UPDATE_SYNOPSIS}`);
    return 2;
  }
  let previous: ReportEntry[] = [];
  if (values["only-failed"] !== undefined) ({ rows, previous } = await onlyFailed(rows, values["only-failed"], file));
  loadEnvFiles(values["env-file"], UPDATE_USAGE);
  const endpoint = `POST ${baseUrl()}/v1/developments/${developmentId}/units/update-by-name`;
  if (values["dry-run"]) {
    for (const row of rows) io.out(`${JSON.stringify(row.unit)}\n`);
    io.err(`propq-auth: dry run: ${rows.length} valid rows would each be sent as ${endpoint}; nothing was sent\n`);
    return 0;
  }
  if (values.report !== undefined) await checkWritable(values.report, UPDATE_USAGE);
  if (rows.length === 0) {
    io.err(`propq-auth: ${file}: no rows to send\n`);
    if (values.report !== undefined) await writeReport(values.report, previous);
    return 0;
  }
  const client = openClient(values, io);
  try {
    await client.getToken(); // a refused credential fails the run once, not once per row
    io.err(`propq-auth: sending ${rows.length} rows to ${endpoint}, ${concurrency} at a time\n`);
    const bar = progress(rows.length, io);
    let done = 0;
    let failed = 0;
    const started = Date.now();
    const interrupt = new AbortController();
    const stopListening = io.onInterrupt(() => {
      io.err("\npropq-auth: interrupted: finishing the rows in flight, sending no more (Ctrl-C again to quit now)\n");
      interrupt.abort();
    });
    const send = async (row: Row) => {
      let status = 0;
      const transport = {
        fetch: (input: string | URL | Request, init?: RequestInit) =>
          client.fetch(input, init).then((response) => (status = response.status, response), (error) => {
            throw error instanceof TypeError ? new NetworkError(error) : error;
          }),
      };
      await updateUnitByName(transport, developmentId, row.unit);
      return status;
    };
    const outcomes = await sendAll(rows, send, {
      concurrency,
      signal: interrupt.signal,
      onOutcome: (_, outcome) => bar.update(++done, outcome.ok ? failed : ++failed),
    });
    stopListening();
    bar.finish();
    summary(rows, outcomes, (Date.now() - started) / 1000, io);
    const failures = outcomes.filter((outcome) => !outcome.ok).length;
    if (values.report !== undefined) {
      const entries = new Map(previous.map((entry) => [entry.row, entry]));
      rows.forEach((row, i) => {
        const { ok, httpStatus, error } = outcomes[i];
        entries.set(row.row, {
          row: row.row,
          UntName: row.unit.UntName,
          status: ok ? "ok" : "failed",
          httpStatus,
          error,
        });
      });
      await writeReport(values.report, [...entries.values()].sort((a, b) => a.row - b.row));
      io.err(`propq-auth: report written to ${values.report}\n`);
    }
    if (failures > 0) {
      const report = values.report ?? "report.json";
      const again = `propq-auth units update ${developmentId} ${shell(file)} --only-failed ${shell(report)}`;
      io.err(
        values.report === undefined
          ? `propq-auth: to re-send only failed rows later, run with --report report.json, then: ${again}\n`
          : `propq-auth: re-send only the failed rows with: ${again} --report ${shell(report)}\n`,
      );
    }
    return interrupt.signal.aborted ? 130 : failures > 0 ? 1 : 0;
  } finally {
    await client.settled();
  }
}

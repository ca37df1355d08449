/**
 * The `--report` file of `units update` (one JSON entry per row) and reading
 * one back for `--only-failed`, which re-sends just the rows that failed.
 *
 * @module
 */

import { access, constants, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import process from "node:process";
import { UsageError } from "./_io.ts";

/** One row's result. */
export interface ReportEntry {
  /** The CSV or NDJSON line the row starts on, or its JSON array index. */
  row: number;
  UntName: string;
  status: "ok" | "failed";
  /** The API's last HTTP status; `null` without an answer. */
  httpStatus: number | null;
  /** Why the row failed; `null` when it did not. */
  error: string | null;
}

function code(error: unknown): string {
  return (error as { code?: string }).code ?? (error as Error).message;
}

/** Fails early, before anything is sent, when the report could not be written. */
export async function checkWritable(path: string, usage: string): Promise<void> {
  try {
    await access(dirname(path), constants.W_OK);
  } catch (error) {
    throw new UsageError(`--report ${path}: cannot write in ${dirname(path)} (${code(error)})`, usage);
  }
}

/** Writes the report: a temporary file renamed over the old one, so a crash never leaves half a report. */
export async function writeReport(path: string, entries: readonly ReportEntry[]): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  // One entry per line: readable, and easy to grep or diff.
  await writeFile(temporary, `[\n${entries.map((entry) => `  ${JSON.stringify(entry)}`).join(",\n")}\n]\n`);
  await rename(temporary, path);
}

/** The entries of a report written by `--report`; the usage error names what is wrong with it. */
export async function readReport(path: string, usage: string): Promise<ReportEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`--only-failed ${path}: cannot read it (${code(error)})`, usage);
  }
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch {
    entries = undefined;
  }
  const valid = Array.isArray(entries) &&
    entries.every((entry) =>
      typeof entry?.row === "number" && typeof entry.UntName === "string" && /^(ok|failed)$/.test(entry.status)
    );
  if (!valid) throw new UsageError(`--only-failed ${path}: not a report written by --report`, usage);
  return entries as ReportEntry[];
}

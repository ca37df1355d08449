/**
 * Unit rows from a CSV, JSON or NDJSON file, every one validated before any
 * is sent: the errors name the row the way the file shows it (CSV and NDJSON:
 * the line the row starts on; JSON: the array index), and the fix.
 *
 * @module
 */

import { UnitStatus, type UnitUpdate } from "../../mod.ts";
import { CsvSyntaxError, parseCsv, sniffDelimiter } from "./_csv.ts";

/** A valid row: where it is in the file, and the update it asks for. */
export interface Row {
  /** The CSV or NDJSON line the row starts on, or the JSON array index. */
  row: number;
  /** `line 5` or `index 3`, for messages. */
  where: string;
  unit: UnitUpdate;
}

/** The file's rows, or why they cannot be sent. */
export interface Rows {
  rows: Row[];
  /** One line per problem, each naming its row; empty when every row is valid. */
  errors: string[];
}

/** The input formats. */
export type Format = "csv" | "json" | "ndjson";

const COLUMNS = ["UntName", "UntStatus", "UntPrice", "UntDirections"] as const;
type Fields = Partial<Record<typeof COLUMNS[number], unknown>>;
type Found = { row: number; where: string; fields: Fields };
type Problem = { row: number; text: string };
const STATUS_NAMES = Object.entries(UnitStatus).map(([name, value]) => `${value} ${name}`).join(", ");

/** The format by extension (.csv .tsv .json .ndjson .jsonl), else by the first character. */
export function formatOf(name: string, text: string): Format {
  const extension = /\.([a-z]+)$/i.exec(name)?.[1].toLowerCase();
  if (extension === "csv" || extension === "tsv") return "csv";
  if (extension === "json") return "json";
  if (extension === "ndjson" || extension === "jsonl") return "ndjson";
  const first = /^\uFEFF?\s*(.)/.exec(text)?.[1];
  return first === "[" ? "json" : first === "{" ? "ndjson" : "csv";
}

/** Reads and validates every row of `text`. */
export function readRows(text: string, format: Format): Rows {
  const found: Found[] = [];
  const errors: Problem[] = [];
  const body = text.replace(/^\uFEFF/, "");
  if (format === "csv") readCsv(body, found, errors);
  else if (format === "ndjson") readNdjson(body, found, errors);
  else readJsonArray(body, found, errors);
  const rows: Row[] = [];
  const seen = new Map<string, string>();
  for (const { row, where, fields } of found) {
    const problems: string[] = [];
    const unit = unitFrom(fields, problems);
    const name = typeof fields.UntName === "string" ? fields.UntName.trim() : "";
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(
        `UntName "${name}" is also on ${first}: list each unit once (rows are sent in parallel, in no set order)`,
      );
    } else if (name !== "") seen.set(name, where);
    if (problems.length > 0) errors.push(...problems.map((problem) => ({ row, text: `${where}: ${problem}` })));
    else if (unit !== undefined) rows.push({ row, where, unit });
  }
  return { rows, errors: errors.sort((a, b) => a.row - b.row).map((error) => error.text) };
}

function readCsv(text: string, found: Found[], errors: Problem[]): void {
  let records;
  try {
    records = parseCsv(text, sniffDelimiter(text));
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    errors.push({ row: error.line, text: error.message });
    return;
  }
  const [header, ...data] = records;
  const names = header?.fields.map((name) => name.trim().toLowerCase()) ?? [];
  const missing = COLUMNS.filter((column) => !names.includes(column.toLowerCase()));
  if (header === undefined || missing.length > 0) {
    const text = `line 1: the header row lacks ${missing.join(", ")}: it must name the columns ${COLUMNS.join(", ")}`;
    errors.push({ row: 1, text });
    return;
  }
  const index = COLUMNS.map((column) => names.indexOf(column.toLowerCase()));
  for (const { fields, line } of data) {
    if (fields.every((field) => field.trim() === "")) continue; // blank lines and rows of empty cells
    if (fields.length !== names.length) {
      errors.push({ row: line, text: `line ${line}: ${fields.length} fields, but the header has ${names.length}` });
      continue;
    }
    const row: Fields = {};
    COLUMNS.forEach((column, i) => row[column] = fields[index[i]]);
    found.push({ row: line, where: `line ${line}`, fields: row });
  }
}

function readNdjson(text: string, found: Found[], errors: Problem[]): void {
  text.split("\n").forEach((source, i) => {
    if (source.trim() === "") return;
    const where = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      errors.push({ row: i + 1, text: `${where}: not valid JSON (${(error as Error).message})` });
      return;
    }
    if (isObject(value)) found.push({ row: i + 1, where, fields: value });
    else errors.push({ row: i + 1, text: `${where}: expected an object such as {"UntName": "A-101", …}` });
  });
}

function readJsonArray(text: string, found: Found[], errors: Problem[]): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    errors.push({ row: -1, text: `not valid JSON (${(error as Error).message})` });
    return;
  }
  if (!Array.isArray(value)) {
    errors.push({ row: -1, text: 'expected a JSON array of units: [{"UntName": "A-101", "UntStatus": "SOLD", …}, …]' });
    return;
  }
  value.forEach((item, i) => {
    if (isObject(item)) found.push({ row: i, where: `index ${i}`, fields: item });
    else errors.push({ row: i, text: `index ${i}: expected an object such as {"UntName": "A-101", …}` });
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function unitFrom(fields: Fields, problems: string[]): UnitUpdate | undefined {
  const before = problems.length;
  for (const column of COLUMNS) {
    if (fields[column] === undefined) problems.push(`${column} is missing`);
  }
  if (problems.length > before) return undefined;
  const UntName = nameFrom(fields.UntName, problems);
  const UntStatus = statusFrom(fields.UntStatus, problems);
  const UntPrice = priceFrom(fields.UntPrice, problems);
  const UntDirections = directionsFrom(fields.UntDirections, problems);
  return problems.length > before ? undefined : { UntName, UntStatus, UntPrice, UntDirections } as UnitUpdate;
}

function nameFrom(value: unknown, problems: string[]): string {
  const name = typeof value === "string" ? value.trim() : "";
  if (typeof value !== "string") problems.push(`UntName must be text, got ${JSON.stringify(value)}`);
  else if (name === "") problems.push("UntName is empty");
  return name;
}

function statusFrom(value: unknown, problems: string[]): number {
  const text = String(value).trim();
  const status = typeof value === "number" || /^\d+$/.test(text)
    ? Number(text)
    : UnitStatus[text.toUpperCase() as keyof typeof UnitStatus];
  if ((typeof value === "number" || typeof value === "string") && Object.values(UnitStatus).includes(status as 1)) {
    return status;
  }
  problems.push(`UntStatus ${JSON.stringify(value)} is not a status: use ${STATUS_NAMES} (number or name)`);
  return NaN;
}

function priceFrom(value: unknown, problems: string[]): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  const text = typeof value === "string" ? value.trim() : "";
  if (/^\d+(\.\d{1,2})?$/.test(text)) return Number(text);
  const shown = JSON.stringify(value);
  if (/^\d{1,3}([.,]\d{3})+$/.test(text)) {
    problems.push(`UntPrice ${shown} looks like it has a thousands separator: write ${text.replace(/[.,]/g, "")}`);
  } else if (/^\d+,\d{1,2}$/.test(text)) {
    problems.push(`UntPrice ${shown} has a decimal comma: write a point, e.g. 1250.50`);
  } else if (text === "" && typeof value === "string") problems.push("UntPrice is empty");
  else problems.push(`UntPrice ${shown} is not a price: digits, and a point before at most 2 decimals, e.g. 1250.50`);
  return NaN;
}

function directionsFrom(value: unknown, problems: string[]): string[] {
  const parts = typeof value === "string" ? value.split(/[;|]/) : Array.isArray(value) ? value : undefined;
  if (parts === undefined || !parts.every((part) => typeof part === "string")) {
    problems.push(`UntDirections ${JSON.stringify(value)} must be text such as "North;East" or a list of strings`);
    return [];
  }
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

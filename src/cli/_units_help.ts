/**
 * The help texts of `propq-auth units` and `propq-auth units update`.
 *
 * @module
 */

import { GLOBAL_HELP } from "./_args.ts";

/** The one-line synopsis of `units update`. */
export const UPDATE_SYNOPSIS =
  "usage: propq-auth units update <developmentId> <file> [--dry-run] [--concurrency N] [--report <file>] " +
  "[--only-failed <report>]\n";

/** The help of `propq-auth units update`. */
export const UPDATE_USAGE = `Update many units of a development from a spreadsheet (CSV), a JSON array or NDJSON.

USAGE
  propq-auth units update <developmentId> <file> [--dry-run] [--concurrency N] [--report <file>]
                          [--only-failed <report>]

EXAMPLES
  $ propq-auth units update 1234 prices.csv --dry-run
  $ propq-auth units update 1234 prices.csv --report report.json
  $ propq-auth units update 1234 prices.csv --only-failed report.json --report report.json
  $ jq -c '.[]' units.json | propq-auth units update 1234 - --concurrency 8

THE FILE
  CSV: a header row naming UntName, UntStatus, UntPrice and UntDirections (any order; other
  columns are ignored), then one unit per row. Comma, semicolon or tab separated, UTF-8.
    UntName,UntStatus,UntPrice,UntDirections
    A-101,SOLD,350000,South;West
    A-102,1,289500.50,
  UntStatus: 1 AVAILABLE, 2 HOLD, 4 SOLD, 8 RESERVED (number or name, any case).
  UntPrice: digits, with a point before at most 2 decimals (no thousands separators).
  UntDirections: separated by ; or |; an empty cell means none.
  JSON: an array of objects with those four keys. NDJSON (.ndjson, .jsonl): one object per line.
  - reads stdin. Every row is checked before anything is sent; problems are listed with their
  line (CSV, NDJSON) or index (JSON), and nothing is sent (exit 2). Each unit may appear once.

FLAGS
  --dry-run               Check the file and print each update as JSON, one per line; send nothing
  --concurrency <N>       Updates in flight at once, 1 to 64 (default 4)
  --report <file>         Write a JSON report: one {row, UntName, status, httpStatus, error} per row
  --only-failed <report>  Send only the rows that <report> lists as failed (a re-run after fixing
                          the cause); with --report on the same file, the report is updated in place

Updates answered 429 or 5xx are retried (4 attempts, backoff, Retry-After honoured). A progress bar
shows on a terminal, a line per 10% otherwise. Exit status: 0 when every row was updated, 1 when
any failed, 2 for a usage error or invalid rows, 130 when interrupted (the report is still written).

${GLOBAL_HELP}`;

/** The help of `propq-auth units`. */
export const UNITS_USAGE = `Work with the units of a development.

USAGE
  propq-auth units update <developmentId> <file> [flags]

EXAMPLES
  $ propq-auth units update 1234 prices.csv --dry-run
  $ propq-auth units update 1234 prices.csv --report report.json

COMMANDS
  update  Update many units from a CSV, JSON or NDJSON file (propq-auth units update --help)

${GLOBAL_HELP}`;

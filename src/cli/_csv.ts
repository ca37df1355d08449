/**
 * A CSV reader (RFC 4180) that keeps the line each record starts on, so row
 * errors can point at the spreadsheet row. Zero dependencies: the package
 * ships none.
 *
 * - Fields are separated by the delimiter (`,` by default; `;` and tab for
 *   spreadsheets in locales whose decimal separator is the comma).
 * - A field in double quotes may hold delimiters, quotes (doubled: `""`) and
 *   line breaks.
 * - Records end with CRLF, LF or a lone CR; a final line break is optional.
 * - A leading UTF-8 byte order mark is dropped.
 * - A quote inside an unquoted field, text after a closing quote and a quote
 *   that never closes are errors, as in csv-parse: a file like that was not
 *   written by a spreadsheet, and guessing would shift columns silently.
 *
 * @module
 */

/** One record: its fields, and the 1-based line of the file it starts on. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** A malformed CSV file; `line` is where the problem is. */
export class CsvSyntaxError extends Error {
  /** The 1-based line of the problem. */
  readonly line: number;

  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.name = "CsvSyntaxError";
    this.line = line;
  }
}

const QUOTE = 34;
const CR = 13;
const LF = 10;

/**
 * Parses `text` into records.
 *
 * @param text The file's text.
 * @param delimiter The field separator, one character.
 * @returns Every record, including blank ones (a blank line is one empty field).
 * @throws {CsvSyntaxError} For a stray quote or a quoted field that never ends.
 */
export function parseCsv(text: string, delimiter = ","): CsvRecord[] {
  const sep = delimiter.charCodeAt(0);
  const records: CsvRecord[] = [];
  const end = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < end) {
    const record: CsvRecord = { fields: [], line };
    for (;;) {
      let value = "";
      if (text.charCodeAt(i) === QUOTE) {
        const opened = line;
        i++;
        for (;;) {
          if (i >= end) throw new CsvSyntaxError("a quoted field starts here and never ends", opened);
          const c = text.charCodeAt(i);
          if (c === QUOTE) {
            if (text.charCodeAt(i + 1) !== QUOTE) break;
            value += '"';
            i += 2;
            continue;
          }
          if (c === LF || (c === CR && text.charCodeAt(i + 1) !== LF)) line++;
          value += text[i++];
        }
        i++;
        const next = text.charCodeAt(i);
        if (i < end && next !== sep && next !== CR && next !== LF) {
          throw new CsvSyntaxError("text after a closing quote: quote the whole field, and double inner quotes", line);
        }
      } else {
        const start = i;
        for (let c = text.charCodeAt(i); i < end && c !== sep && c !== CR && c !== LF; c = text.charCodeAt(++i)) {
          if (c === QUOTE) {
            throw new CsvSyntaxError("a quote inside an unquoted field: quote the whole field, and double it", line);
          }
        }
        value = text.slice(start, i);
      }
      record.fields.push(value);
      if (i < end && text.charCodeAt(i) === sep) {
        i++;
        continue;
      }
      if (text.charCodeAt(i) === CR) i++;
      if (text.charCodeAt(i) === LF) i++;
      line++;
      break;
    }
    records.push(record);
  }
  return records;
}

/**
 * Guesses the delimiter from the first line: the most frequent of `,`, `;`
 * and tab (`,` on a tie or when none occurs).
 *
 * @param text The file's text.
 * @returns The delimiter.
 */
export function sniffDelimiter(text: string): string {
  const first = text.split(/\r\n|\r|\n/, 1)[0] ?? "";
  let best = ",";
  let most = 0;
  for (const candidate of [",", ";", "\t"]) {
    const count = first.split(candidate).length - 1;
    if (count > most) [best, most] = [candidate, count];
  }
  return best;
}

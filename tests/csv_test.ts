// The CLI's CSV reader against csv-parse, a well-kept parser, as the oracle: generated files with quotes,
// delimiters, CR, LF, CRLF, a BOM and empty fields must read the same in both; malformed ones must fail in both.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parse } from "csv-parse/sync";
import { CsvSyntaxError, parseCsv, sniffDelimiter } from "../src/cli/_csv.ts";

const BOM = "\uFEFF";
const LINE_BREAKS = ["\n", "\r\n", "\r"] as const;
const DELIMITERS = [",", ";", "\t"] as const;

function oracle(text: string, delimiter = ","): string[][] {
  return parse(text, { bom: true, relax_column_count: true, delimiter });
}

function fields(text: string, delimiter = ","): string[][] {
  return parseCsv(text, delimiter).map((record) => record.fields);
}

/** How a spreadsheet writes a field: quoted when it holds a delimiter, a quote or a line break. */
function quote(field: string, delimiter: string, alone: boolean): string {
  const needs = field.includes(delimiter) || /["\r\n]/.test(field) || field.startsWith(BOM) || (alone && field === "");
  return needs ? `"${field.replaceAll('"', '""')}"` : field;
}

function serialize(records: string[][], delimiter: string, lineBreak: string, bom: boolean, trailing: boolean): string {
  const lines = records.map((record) => record.map((f) => quote(f, delimiter, record.length === 1)).join(delimiter));
  return (bom ? BOM : "") + lines.join(lineBreak) + (trailing && records.length > 0 ? lineBreak : "");
}

const field = fc.string({
  unit: fc.constantFrom("a", "b", " ", "é", '"', ",", ";", "\t", "\r", "\n", BOM),
  maxLength: 8,
});
const document = fc.record({
  records: fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { maxLength: 8 }),
  delimiter: fc.constantFrom(...DELIMITERS),
  lineBreak: fc.constantFrom(...LINE_BREAKS),
  bom: fc.boolean(),
  trailing: fc.boolean(),
});

describe("parseCsv() reads what csv-parse reads", () => {
  test("files a spreadsheet could write: quoted delimiters, quotes, line breaks, BOM, empty fields", () => {
    fc.assert(
      fc.property(document, ({ records, delimiter, lineBreak, bom, trailing }) => {
        const text = serialize(records, delimiter, lineBreak, bom, trailing);
        assert.deepEqual(fields(text, delimiter), oracle(text, delimiter));
        assert.deepEqual(fields(text, delimiter), records); // and both give back what was written
      }),
      { numRuns: 500 },
    );
  });

  test("any text of quotes, commas and one kind of line break: the same records, or an error from both", () => {
    for (const lineBreak of LINE_BREAKS) {
      const unit = fc.constantFrom("a", '"', ",", lineBreak, BOM);
      fc.assert(
        fc.property(fc.string({ unit, maxLength: 16 }), (text) => {
          let expected: string[][] | "error";
          try {
            expected = oracle(text);
          } catch {
            expected = "error";
          }
          if (expected === "error") assert.throws(() => parseCsv(text), CsvSyntaxError, JSON.stringify(text));
          else assert.deepEqual(fields(text), expected, JSON.stringify(text));
        }),
        { numRuns: 700 },
      );
    }
  });

  test("examples: empty input, blank lines, a trailing delimiter, a lone quoted empty field", () => {
    for (const text of ["", "\n", "a,b\n\nc,d", "a,", '""', "a\r\r", `${BOM}${BOM}a`, '"a\r\nb",c\r\n']) {
      assert.deepEqual(fields(text), oracle(text), JSON.stringify(text));
    }
  });
});

describe("parseCsv() reports lines", () => {
  test("each record carries the physical line it starts on, counting breaks inside quotes", () => {
    const text = 'UntName,UntDirections\r\nA-1,"North\r\nEast"\r\nA-2,"a\nb\rc"\r\n\r\nA-3,\r\n';
    assert.deepEqual(parseCsv(text).map((r) => [r.fields[0], r.line]), [
      ["UntName", 1],
      ["A-1", 2],
      ["A-2", 4],
      ["", 7],
      ["A-3", 8],
    ]);
  });

  test("a BOM does not shift line numbers; LF and lone CR files count the same", () => {
    for (const lineBreak of LINE_BREAKS) {
      const text = `${BOM}h${lineBreak}"x${lineBreak}y"${lineBreak}z`;
      assert.deepEqual(parseCsv(text).map((r) => r.line), [1, 2, 4], JSON.stringify(lineBreak));
    }
  });

  test("errors name the line: a quote that never closes names the line it opened on", () => {
    const cases: [string, number, RegExp][] = [
      ['a\nb\n"c\nd\n', 3, /never ends/],
      ['a\n"b"c', 2, /after a closing quote/],
      ['a\n"x\ny"\nb"c', 4, /quote inside an unquoted field/],
    ];
    for (const [text, line, message] of cases) {
      assert.throws(() => parseCsv(text), (error: unknown) => {
        assert.ok(error instanceof CsvSyntaxError);
        assert.equal(error.line, line);
        assert.match(error.message, message);
        assert.match(error.message, new RegExp(`^line ${line}: `));
        return true;
      });
    }
  });
});

describe("sniffDelimiter()", () => {
  test("picks the separator of the header line: comma, semicolon (Spanish Excel) or tab", () => {
    assert.equal(sniffDelimiter("UntName,UntStatus,UntPrice,UntDirections\n1;2"), ",");
    assert.equal(sniffDelimiter(`${BOM}UntName;UntStatus;UntPrice;UntDirections\r\nA,1;1;1;x`), ";");
    assert.equal(sniffDelimiter("UntName\tUntStatus\tUntPrice\tUntDirections"), "\t");
    assert.equal(sniffDelimiter("UntName"), ",");
  });
});

// What `propq-auth units update` accepts from a file, and how it names the rows it refuses.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { formatOf, readRows } from "../src/cli/_rows.ts";

const HEADER = "UntName,UntStatus,UntPrice,UntDirections";

describe("readRows() from CSV", () => {
  test("columns in any order, statuses as numbers or names in any case, directions split on ; or |", () => {
    const text = "\uFEFFUntDirections;UntPrice;UntName;UntStatus\r\n" +
      '"North;East";350000;A-1;sold\r\nSouth|West;1250.50;" A-2 ";2\r\n;0;A-3;RESERVED\r\n';
    const { rows, errors } = readRows(text, "csv");
    assert.deepEqual(errors, []);
    assert.deepEqual(rows.map((row) => [row.row, row.unit]), [
      [2, { UntName: "A-1", UntStatus: 4, UntPrice: 350000, UntDirections: ["North", "East"] }],
      [3, { UntName: "A-2", UntStatus: 2, UntPrice: 1250.5, UntDirections: ["South", "West"] }],
      [4, { UntName: "A-3", UntStatus: 8, UntPrice: 0, UntDirections: [] }],
    ]);
  });

  test("blank lines and rows of empty cells are skipped; extra columns are ignored", () => {
    const text = `Notes,${HEADER}\n\nhello,A-1,1,5,\n,,,,\n`;
    const { rows, errors } = readRows(text, "csv");
    assert.deepEqual(errors, []);
    assert.deepEqual(rows.map((row) => [row.row, row.unit.UntName]), [[3, "A-1"]]);
  });

  test("every problem is listed, in file order, with the line the row starts on and the fix", () => {
    const text = [
      HEADER,
      'A-1,SOLD,350000,"North', // a quoted cell over two lines: the next row starts on line 4
      'East"',
      "A-2,SOLDD,1,",
      "A-3,4,350.000,",
      "A-4,4,350000,50,",
      "A-5,4,1250,50,x",
      "A-1,1,1,",
      "A-2,1,1,", // a duplicate of an invalid row is a problem too
      ",4,-5,",
      "A-8,3",
    ].join("\n");
    const { rows, errors } = readRows(text, "csv");
    assert.deepEqual(rows.map((row) => row.unit.UntName), ["A-1"]);
    assert.deepEqual(errors, [
      'line 4: UntStatus "SOLDD" is not a status: use 1 AVAILABLE, 2 HOLD, 4 SOLD, 8 RESERVED (number or name)',
      'line 5: UntPrice "350.000" looks like it has a thousands separator: write 350000',
      "line 6: 5 fields, but the header has 4",
      "line 7: 5 fields, but the header has 4",
      'line 8: UntName "A-1" is also on line 2: list each unit once (rows are sent in parallel, in no set order)',
      'line 9: UntName "A-2" is also on line 4: list each unit once (rows are sent in parallel, in no set order)',
      "line 10: UntName is empty",
      'line 10: UntPrice "-5" is not a price: digits, and a point before at most 2 decimals, e.g. 1250.50',
      "line 11: 2 fields, but the header has 4",
    ]);
  });

  test("prices: thousands separators and decimal commas are refused with the number to write", () => {
    const cases: [string, RegExp][] = [
      ["350,000", /thousands separator: write 350000$/],
      ["1.250.000", /thousands separator: write 1250000$/],
      ["1250,50", /decimal comma: write a point, e.g. 1250.50$/],
      ["1250.505", /not a price/],
      ["€350000", /not a price/],
      ["", /UntPrice is empty/],
    ];
    for (const [price, message] of cases) {
      const { errors } = readRows(`${HEADER}\nA-1,1,"${price}",`, "csv");
      assert.equal(errors.length, 1, price);
      assert.match(errors[0], message);
    }
  });

  test("a header without the four columns, a malformed quote: one error naming the line", () => {
    assert.deepEqual(readRows("UntName,UntStatus,Price\nA,1,2", "csv").errors, [
      "line 1: the header row lacks UntPrice, UntDirections: it must name the columns UntName, UntStatus, UntPrice, UntDirections",
    ]);
    assert.match(readRows(`${HEADER}\nA-1,1,2,"x\n`, "csv").errors.join(), /^line 2: a quoted field starts here/);
    assert.match(readRows("", "csv").errors.join(), /^line 1: the header row lacks UntName/);
  });
});

describe("readRows() from JSON and NDJSON", () => {
  const unit = { UntName: "A-1", UntStatus: "HOLD", UntPrice: 1.125, UntDirections: ["N"] };

  test("a JSON array: rows are array indexes; numbers stay exact; names or numbers for statuses", () => {
    const { rows, errors } = readRows(JSON.stringify([unit, { ...unit, UntName: "A-2", UntStatus: 8 }]), "json");
    assert.deepEqual(errors, []);
    assert.deepEqual(rows.map((row) => [row.row, row.where, row.unit.UntStatus, row.unit.UntPrice]), [
      [0, "index 0", 2, 1.125],
      [1, "index 1", 8, 1.125],
    ]);
  });

  test("JSON problems are named by index", () => {
    const items = [unit, 5, { UntName: "A-3", UntStatus: 4, UntPrice: "x", UntDirections: "N|S" }, { UntName: "A-4" }];
    assert.deepEqual(readRows(JSON.stringify(items), "json").errors, [
      'index 1: expected an object such as {"UntName": "A-101", …}',
      'index 2: UntPrice "x" is not a price: digits, and a point before at most 2 decimals, e.g. 1250.50',
      "index 3: UntStatus is missing",
      "index 3: UntPrice is missing",
      "index 3: UntDirections is missing",
    ]);
    assert.match(readRows('{"a":1}', "json").errors.join(), /^expected a JSON array of units/);
    assert.match(readRows("[1,", "json").errors.join(), /^not valid JSON \(/);
  });

  test("NDJSON problems are named by line; blank lines are skipped", () => {
    const text = `${JSON.stringify(unit)}\r\n\r\n{oops}\n${JSON.stringify({ ...unit, UntName: 7 })}\n`;
    const { rows, errors } = readRows(text, "ndjson");
    assert.deepEqual(rows.map((row) => row.where), ["line 1"]);
    assert.equal(errors.length, 2);
    assert.match(errors[0], /^line 3: not valid JSON \(/);
    assert.equal(errors[1], "line 4: UntName must be text, got 7");
  });
});

describe("formatOf()", () => {
  test("by extension, else by the first character", () => {
    assert.equal(formatOf("units.CSV", "[1]"), "csv");
    assert.equal(formatOf("units.json", ""), "json");
    assert.equal(formatOf("units.jsonl", ""), "ndjson");
    assert.equal(formatOf("units.ndjson", ""), "ndjson");
    assert.equal(formatOf("-", "\uFEFF  [{}]"), "json");
    assert.equal(formatOf("-", '{"UntName":"A"}\n'), "ndjson");
    assert.equal(formatOf("units.txt", HEADER), "csv");
  });
});

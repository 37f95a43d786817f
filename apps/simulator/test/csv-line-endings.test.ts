import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { removeScratchDirs } from "@evgrid/testing/temp";
import { HEADER, ok1, ok2, readText, row } from "./csv-fixtures.ts";

afterAll(removeScratchDirs);
// Files of 40,000 rows: well under a second, several on a busy shared machine.
setDefaultTimeout(60_000);

const at = (h: number) => `Tue, 10 Mar 2026 ${String(h).padStart(2, "0")}:00:00 GMT`;
const ok3 = row("c", "CA-3", at(9), at(11), 30);
const ok4 = row("d", "CA-4", at(10), at(12), 40);
const bad = row("x", "CA-9", "yesterday", at(12), 5);

/** The lines with `userInputs` last (a column nothing checks), the second a quoted field over two lines. */
function withInputs(eol: string, header = eol, tail: string[] = []) {
  const lines = [
    `${ok1},x`,
    `${ok2},"[{'kWhRequested': 10.0,${eol} 'WhPerMile': 250}]"`,
    `${ok3},x`,
    `${ok4},x`,
  ];
  return `${HEADER},userInputs${header}${[...lines, ...tail].map((l) => `${l}${eol}`).join("")}`;
}

describe("sessions CSV: every line ending reads every row, and the lines are counted right", () => {
  test.each([
    ["CRLF", "\r\n", "\r\n"],
    ["LF", "\n", "\n"],
    ["CR", "\r", "\r"],
    ["a CRLF header over LF rows", "\n", "\r\n"],
    ["an LF header over CRLF rows", "\r\n", "\n"],
  ])("%s: 4 sessions, and a bad row after them is line 7", (_, eol, header) => {
    expect(readText(withInputs(eol, header))).toHaveLength(4);
    expect(() => readText(withInputs(eol, header, [`${bad},x`]))).toThrow(
      /sessions\.csv line 7: connectionTime is not a date: "yesterday"/,
    );
  });

  test("a row with more fields than the header is refused, naming its line, not merged or dropped", () => {
    expect(() => readText(withInputs("\n", "\n", [`${row("e", "CA-5", at(13), at(14), 5)},x,y`]))).toThrow(
      /line 7: 7 fields, the header has 6/,
    );
  });

  /**
   * 40,000 rows over several of the reader's 1 MiB chunks, the first 10,000 ended by LF and the rest by `eol`,
   * the first row padded so that one CRLF is split by the first chunk's end; then `tail`.
   */
  function manyRows(eol: string, tail = "") {
    const start = Date.parse("2026-03-10T00:00:00Z");
    const iso = (t: number) => new Date(t).toISOString();
    const rows: string[] = [];
    for (let j = 0; j < 40_000; j++) {
      const t = start + j * 60_000;
      rows.push(`S-${j % 1000},${iso(t)},${iso(t + 7_200_000)},7${j < 10_000 ? "\n" : eol}`);
    }
    let text = `stationID,connectionTime,disconnectTime,kWhDelivered\n${rows.join("")}${tail}`;
    const chunkEnd = 1 << 20;
    const cr = text.lastIndexOf(eol, chunkEnd - 1);
    text = text.replace("S-0,", `S-0${"0".repeat(chunkEnd - 1 - cr)},`);
    return text;
  }

  test.each([
    ["CRLF, one split by a chunk's end", "\r\n"],
    ["CR", "\r"],
  ])("LF rows, then %s over several chunks: every row read, a bad last one named", (_, eol) => {
    const text = manyRows(eol);
    if (eol === "\r\n") expect(text.slice((1 << 20) - 1, (1 << 20) + 1)).toBe("\r\n");
    expect(readText(text)).toHaveLength(40_000);
    expect(() => readText(manyRows(eol, `S-x,2026-03-10T00:00:00Z,2026-03-10T01:00:00Z,none${eol}`))).toThrow(
      /line 40002: kWhDelivered is not a number: "none"/,
    );
  });
});

describe("sessions CSV: a malformed record is named at the line it begins on", () => {
  const unclosed = 'x,CA-9,"Tue, 10 Mar 2026 07:00:00 GMT,5';

  test.each([
    ["before another row", [HEADER, ok1, unclosed, ok2], /line 3: malformed CSV \(CSV_INVALID_CLOSING_QUOTE/],
    [
      "after a blank line",
      [HEADER, ok1, "", unclosed, ok2],
      /line 4: malformed CSV \(CSV_INVALID_CLOSING_QUOTE/,
    ],
    [
      "to the end of the file",
      [HEADER, ok1, unclosed, "y,CA-8,2026-03-10T07:00:00Z,2026-03-10T08:00:00Z,5"],
      /line 3: malformed CSV \(CSV_QUOTE_NOT_CLOSED/,
    ],
  ])("a quote never closed, %s", (_, lines, message) => {
    expect(() => readText(`${lines.join("\n")}\n`)).toThrow(message);
  });

  test.each([
    ["LF", "\n"],
    ["CRLF", "\r\n"],
    ["CR", "\r"],
  ])("a bad value in a record over several lines (%s) names the lines it spans, from its first", (_, eol) => {
    // Its userInputs over three lines: a bad energy on line 3 is named there, not at the record's end.
    const spread = (kwh: string | number) =>
      `${row("x", "CA-9", at(7), at(9), kwh)},"[{'kWhRequested': 10.0,${eol} 'WhPerMile': 250,${eol} 'milesRequested': 40}]"`;
    const text = (lines: string[]) => `${[`${HEADER},userInputs`, ...lines].join(eol)}${eol}`;
    expect(() => readText(text([`${ok1},x`, spread("abc"), `${ok2},x`]))).toThrow(
      /sessions\.csv lines 3-5: kWhDelivered is not a number: "abc"/,
    );
    // An overlap names both sessions where they begin: line 6, and lines 3-5 for the one before it.
    const clash = row("y", "CA-9", at(8), at(10), 5);
    expect(() => readText(text([`${ok1},x`, spread(10), `${clash},x`]))).toThrow(
      /sessions\.csv line 6: stationID CA-9 is still in use by the session on lines 3-5 /,
    );
  });

  test("a header after blank lines is named at its own line", () => {
    expect(() => readText("\n\nconnectionTime,kWhDelivered\n")).toThrow(/line 3: no column "disconnectTime"/);
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { readSessionsCsv } from "../src/index.ts";
import { bigFile, HEADER, ok1, ok2, read, row, scenarioFor } from "./csv-fixtures.ts";

// The CSV files, reports and scenarios written here go with the run.
afterAll(removeScratchDirs);

// The 40,000-row file is written and read in well under a second; 800,000 rows are in sessions-csv-big.e2e.test.ts.

describe("sessions CSV: every problem names the file, the line and the field", () => {
  test("a missing required column is named, not 'expected string, received undefined'", () => {
    expect(() => read(["connectionTime,kWhDelivered", '"Tue, 10 Mar 2026 07:00:00 GMT",10'])).toThrow(
      /sessions\.csv line 1: no column "disconnectTime"/,
    );
  });

  test.each([
    [
      row("x", "CA-9", "yesterday", "Tue, 10 Mar 2026 09:00:00 GMT", 5),
      /line 3: connectionTime is not a date/,
    ],
    [row("x", "CA-9", "Tue, 10 Mar 2026 07:00:00 GMT", "", 5), /line 3: disconnectTime is missing/],
    [
      row("x", "CA-9", "Tue, 10 Mar 2026 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", "lots"),
      /line 3: kWhDelivered is not a number/,
    ],
    [
      row("x", "CA-9", "Tue, 10 Mar 2026 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", 0),
      /line 3: kWhDelivered must be positive/,
    ],
    [
      row("x", "CA-9", "Tue, 10 Mar 2026 09:00:00 GMT", "Tue, 10 Mar 2026 07:00:00 GMT", 5),
      /line 3: disconnectTime must be after connectionTime/,
    ],
    ['x,CA-9,"Tue, 10 Mar 2026 07:00:00 GMT"', /line 3: disconnectTime is missing/],
    // An unterminated quote runs on into the next line, where the parser notices it: named where it began.
    ['x,CA-9,"Tue, 10 Mar 2026 07:00:00 GMT,5', /line 3: malformed CSV \(CSV_INVALID_CLOSING_QUOTE/],
  ])("a bad row names its line and field: %s", (bad, message) => {
    expect(() => read([HEADER, ok1, bad, ok2])).toThrow(message);
  });

  test("a session lasting 73 years, or a week and a minute, is refused; a settable maximum", () => {
    const long = row("x", "CA-9", "Mon, 01 Jan 1953 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", 5);
    expect(() => read([HEADER, ok1, long])).toThrow(
      /line 3: the session lasts 26\d{3}\.\d days .* over maxDwellH 168 h/,
    );
    const week = row("x", "CA-9", "Tue, 10 Mar 2026 07:00:00 GMT", "Tue, 17 Mar 2026 07:01:00 GMT", 5);
    expect(() => read([HEADER, week])).toThrow(/line 2: .*over maxDwellH 168 h/);
    expect(read([HEADER, week], { maxDwellH: 200 })).toHaveLength(1);
  });

  test("two sessions on one station at once are refused, naming both lines; back to back is fine", () => {
    const clash = row("c", "CA-1", "Tue, 10 Mar 2026 08:59:00 GMT", "Tue, 10 Mar 2026 10:00:00 GMT", 5);
    expect(() => read([HEADER, ok1, ok2, clash])).toThrow(
      /line 4: stationID CA-1 is still in use by the session on line 2/,
    );
    const next = row("c", "CA-1", "Tue, 10 Mar 2026 09:00:00 GMT", "Tue, 10 Mar 2026 10:00:00 GMT", 5);
    expect(read([HEADER, ok1, ok2, next])).toHaveLength(3);
  });

  test("one sessionID on two rows is refused, naming the first repeat and the row it repeats", () => {
    const at = (h: number) => `Tue, 10 Mar 2026 ${String(h).padStart(2, "0")}:00:00 GMT`;
    // "b" again on line 5 and "a" again on line 6: the repeat first in the file is named, not "a".
    const again = [row("b", "CA-3", at(9), at(10), 5), row("a", "CA-4", at(9), at(10), 5)];
    expect(() => read([HEADER, ok1, ok2, row("c", "CA-5", at(9), at(10), 5), ...again])).toThrow(
      /sessions\.csv line 5: sessionID b repeats the session on line 3 \(each sessionID once/,
    );
    // Rows without an id (no column, or an empty cell) are not repeats of each other.
    const noId = (station: string) => row("", station, at(9), at(10), 5);
    expect(read([HEADER, ok1, noId("CA-3"), noId("CA-4")])).toHaveLength(3);
  });

  test("stationID and a maxKw (or maxPowerKw) column reach the arrivals; without them, or in an empty cell, the mix is drawn", () => {
    const arrivals = read([`${HEADER},maxPowerKw`, `${ok1},3.3`, `${ok2},`]);
    expect(arrivals.map((a) => [a.stationId, a.maxKw, a.minKw])).toEqual([
      ["CA-1", 3.3, 3.3],
      ["CA-2", 11, 4.2],
    ]);
    expect(() => read([`${HEADER},maxKw`, `${ok1},-2`])).toThrow(/line 2: maxKw must be a number/);
  });

  test("quoted fields with commas and newlines are one field; later line numbers still count them", () => {
    const withInputs = `${HEADER},userInputs`;
    const multiLine = `${ok1},"[{'kWhRequested': 10.0,\n 'WhPerMile': 250}]"`;
    const bad = row("x", "CA-9", "yesterday", "Tue, 10 Mar 2026 09:00:00 GMT", 5);
    expect(read([withInputs, multiLine, `${ok2},`])).toHaveLength(2);
    expect(() => read([withInputs, multiLine, `${ok2},`, `${bad},`])).toThrow(/line 5: connectionTime/);
  });

  test("a value from the file is shown escaped, on the message's one line: never a terminal's escape sequence", () => {
    // What a CSV from someone else may hold: an OSC that retitles the terminal, a clear screen, a line break.
    const evil = "\u001b]0;owned\u0007\u001b[2J1\n2\u009b";
    const at = (h: number) => `Tue, 10 Mar 2026 ${String(h).padStart(2, "0")}:00:00 GMT`;
    const messageOf = (lines: string[]) => {
      try {
        read(lines);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error("read it");
    };
    const quoted = `"${evil}"`;
    for (const message of [
      messageOf([HEADER, row("x", "CA-9", at(7), at(9), quoted)]),
      messageOf(
        [`${HEADER},${quoted}`, row("x", "CA-9", at(7), at(9), 5)].map((l) => l.replace(",kWhDelivered", "")),
      ),
      messageOf([HEADER, row("x", quoted, at(7), at(9), 5), row("y", quoted, at(8), at(10), 5)]),
    ]) {
      const controls = [...message].filter((c) => c < " " || (c >= "\u007f" && c <= "\u009f"));
      expect(controls).toEqual([]);
      expect(message).toContain(String.raw`\u001b]0;owned\u0007\u001b[2J1\n2\u009b`);
    }
  });

  test("a file over maxCsvMb is refused before it is read, naming the file and the limit", () => {
    expect(() => read([HEADER, ok1, ok2], { maxCsvMb: 0.0001 })).toThrow(
      /sessions\.csv is [\d,]+ bytes, over the limit of 0\.0001 MB \(104 bytes; maxCsvMb/,
    );
  });

  test("line numbers hold across the reader's 1 MiB chunks", () => {
    const dir = bigFile(40_000, "S-x,2026-03-10T00:00:00Z,2026-03-10T01:00:00Z,none\n");
    expect(() => readSessionsCsv(scenarioFor(), dir)).toThrow(
      /line 40002: kWhDelivered is not a number: "none"/,
    );
  });
});

describe("bun run simulate on a bad CSV", () => {
  const main = resolve(import.meta.dir, "../src/main.ts");
  async function simulate(csv: string, over: Record<string, unknown> = {}) {
    const dir = scratchDir("evgrid-csv-cli-");
    writeFileSync(join(dir, "sessions.csv"), csv);
    const scenario = {
      name: "cli",
      substations: [{ id: "a", capacityKw: 50 }],
      sessionsCsv: "sessions.csv",
      ...over,
    };
    writeFileSync(join(dir, "scenario.json"), JSON.stringify(scenario));
    const child = Bun.spawn(
      ["bun", main, "--scenario", join(dir, "scenario.json"), "--out", join(dir, "out")],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    return { code, stderr };
  }

  test.each([
    [
      "a missing column",
      `connectionTime,kWhDelivered\n"Tue, 10 Mar 2026 07:00:00 GMT",3\n`,
      {},
      /line 1: no column "disconnectTime"/,
    ],
    [
      "a 73-year session",
      `${HEADER}\n${row("x", "A", "Mon, 01 Jan 1953 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", 5)}\n`,
      {},
      /line 2: the session lasts .* days/,
    ],
    [
      "an energy of 1e308 kWh (was Infinity and NaN % in the report)",
      `${HEADER}\n${row("x", "A", "Tue, 10 Mar 2026 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", "1e308")}\n`,
      {},
      /line 2: kWhDelivered must be at most 1000 kWh/,
    ],
    [
      "one sessionID twice",
      `${HEADER}\n${ok1}\n${ok2}\n${ok1.replace("CA-1", "CA-3")}\n`,
      {},
      /line 4: sessionID a repeats the session on line 2 /,
    ],
    [
      "a file over the limit",
      `${HEADER}\n${ok1}\n`,
      { maxCsvMb: 0.00001 },
      /sessions\.csv is [\d,]+ bytes, over the limit of 0\.00001 MB/,
    ],
  ])("%s: exit 2, one line naming it, no stack trace", async (_, csv, over, message) => {
    const { code, stderr } = await simulate(csv, over);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(code).toBe(2);
  });
});

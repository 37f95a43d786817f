/** A sessions CSV of 800,000 rows: about 4 s of CPU, several times that on a busy shared machine. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { removeScratchDirs } from "@evgrid/testing/temp";
import { readSessionsCsv } from "../src/index.ts";
import { bigFile, scenarioFor } from "./csv-fixtures.ts";

afterAll(removeScratchDirs);
setDefaultTimeout(60_000);

test("800,000 rows are read (Math.min over a spread of them overflowed the call stack)", () => {
  const arrivals = readSessionsCsv(scenarioFor(), bigFile(800_000));
  expect(arrivals).toHaveLength(800_000);
  expect(arrivals[0]?.arriveMin).toBe(0);
});

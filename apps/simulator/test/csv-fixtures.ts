/** Sessions CSVs for the tests: ACN-style rows, a scenario replaying `sessions.csv`, a file written raw. */
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@evgrid/testing/temp";
import { parseScenario, readSessionsCsv } from "../src/index.ts";

export const HEADER = "sessionID,stationID,connectionTime,disconnectTime,kWhDelivered";
export const row = (id: string, station: string, from: string, to: string, kwh: string | number) =>
  `${id},${station},"${from}","${to}",${kwh}`;
export const ok1 = row("a", "CA-1", "Tue, 10 Mar 2026 07:00:00 GMT", "Tue, 10 Mar 2026 09:00:00 GMT", 10);
export const ok2 = row("b", "CA-2", "Tue, 10 Mar 2026 08:00:00 GMT", "Tue, 10 Mar 2026 12:00:00 GMT", 20);

export const scenarioFor = (over: Record<string, unknown> = {}) =>
  parseScenario({
    name: "csv",
    substations: [{ id: "a", capacityKw: 50 }],
    sessionsCsv: "sessions.csv",
    vehicles: [{ name: "AC 11", share: 1, maxKw: 11, minKw: 4.2 }],
    ...over,
  });

/** Writes `text` as it is (line endings included) as `sessions.csv` in a fresh directory and reads it. */
export function readText(text: string, over: Record<string, unknown> = {}) {
  const dir = scratchDir("evgrid-csv-");
  writeFileSync(join(dir, "sessions.csv"), text);
  return readSessionsCsv(scenarioFor(over), dir);
}

/** The lines, each ended by "\n", read as `sessions.csv`. */
export const read = (lines: string[], over: Record<string, unknown> = {}) =>
  readText(`${lines.join("\n")}\n`, over);

/** `count` rows on 1,000 stations, each used every 1,000 minutes for 2 hours (no overlap), then `tail`. */
export function bigFile(count: number, tail = "") {
  const dir = scratchDir("evgrid-csv-big-");
  const fd = openSync(join(dir, "sessions.csv"), "w");
  writeSync(fd, "stationID,connectionTime,disconnectTime,kWhDelivered\n");
  const start = Date.parse("2026-03-10T00:00:00Z");
  for (let i = 0; i < count; i += 10_000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(count, i + 10_000); j++) {
      const t = start + j * 60_000;
      lines.push(`S-${j % 1000},${new Date(t).toISOString()},${new Date(t + 7_200_000).toISOString()},7`);
    }
    writeSync(fd, `${lines.join("\n")}\n`);
  }
  writeSync(fd, tail);
  closeSync(fd);
  return dir;
}

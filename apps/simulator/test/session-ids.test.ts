/**
 * sessions.csv carries the input's `sessionID` (column `session_id`), so a planner can join the simulated
 * sessions back to the rows they came from; generated arrivals have none, and the report is unchanged by it.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { removeScratchDirs } from "@evgrid/testing/temp";
import { parse } from "csv-parse/sync";
import {
  generateArrivals,
  type Policy,
  policyById,
  SESSIONS_CSV_HEADER,
  type SessionRecord,
  sessionCsvRow,
  simulate,
} from "../src/index.ts";
import { HEADER, ok1, read, row } from "./csv-fixtures.ts";
import { eveningDay } from "./days.ts";
import { acnDir, runMain } from "./run-main.ts";

afterAll(removeScratchDirs);
setDefaultTimeout(30_000);

const record: SessionRecord = {
  id: 7,
  sessionId: null,
  siteId: "site-1",
  stationId: "CA-1",
  arriveMin: 480,
  departMin: 600,
  askedKwh: 10,
  deliveredKwh: 10,
  waitedMin: 0,
  outcome: "charged",
};

/** A CSV's records as objects by its header's names. */
const rowsOf = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

describe("sessions.csv: session_id", () => {
  test("the input's sessionID, quoted and formula-escaped as station ids are; empty when there is none", () => {
    expect(SESSIONS_CSV_HEADER.split(",").at(-1)).toBe("session_id");
    const at = (sessionId: string | null) => sessionCsvRow("evgrid", { ...record, sessionId });
    expect(at("2_39_78_360_2019-05-01 15:23:50.712284")).toEndWith(
      ",charged,2_39_78_360_2019-05-01 15:23:50.712284",
    );
    expect(at('a "b", c')).toEndWith(',charged,"a ""b"", c"');
    expect(at("=HYPERLINK(1)")).toEndWith(",charged,'=HYPERLINK(1)");
    expect(at("-1")).toEndWith(",charged,'-1");
    expect(at(null)).toEndWith(",charged,");
  });

  test("read from the CSV's sessionID column; none without the column or in an empty cell", () => {
    const other = row("", "CA-2", "Tue, 10 Mar 2026 08:00:00 GMT", "Tue, 10 Mar 2026 12:00:00 GMT", 20);
    expect(read([HEADER, ok1, other]).map((a) => a.sessionId)).toEqual(["a", undefined]);
    const noIds = [HEADER.replace("sessionID,", ""), ok1.replace(/^a,/, "")];
    expect(read(noIds).map((a) => a.sessionId)).toEqual([undefined]);
  });

  test("generated arrivals: the column is there and empty", () => {
    const day = eveningDay(80);
    const lines: string[] = [];
    const onSession = (r: SessionRecord) => lines.push(sessionCsvRow("evgrid", r));
    simulate(day, generateArrivals(day), policyById("evgrid") as Policy, { onSession });
    expect(lines.length).toBeGreaterThan(0);
    const rows = rowsOf(`${SESSIONS_CSV_HEADER}\n${lines.join("\n")}\n`);
    expect(rows.every((r) => r.session_id === "")).toBe(true);
  });

  test("bun run simulate on the ACN sample: every row joins back to its input row; report.json the same bytes twice", async () => {
    const { dir, scenario, csv } = acnDir();
    const byId = new Map(rowsOf(readFileSync(csv, "utf8")).map((r) => [r.sessionID, r]));
    const reports: string[] = [];
    for (const out of ["a", "b"]) {
      const args = ["--scenario", scenario, "--out", join(dir, out), "--optimum-max-sessions", "0"];
      const run = await runMain([...args, "--policy", "evgrid,edf"]);
      expect(run.code).toBe(0);
      reports.push(readFileSync(join(dir, out, "report.json"), "utf8"));
    }
    expect(reports[1]).toBe(reports[0] as string);
    const rows = rowsOf(readFileSync(join(dir, "a", "sessions.csv"), "utf8"));
    for (const policy of ["evgrid", "edf"]) {
      const ids = rows.filter((r) => r.policy === policy).map((r) => r.session_id);
      expect(ids.toSorted()).toEqual([...byId.keys()].toSorted());
    }
    // Joined by session_id, each row is its input's session: its station, its energy asked.
    for (const r of rows) {
      const input = byId.get(r.session_id as string);
      expect([r.station, Number(r.asked_kwh)]).toEqual([input?.stationID, Number(input?.kWhDelivered)]);
    }
  });
});

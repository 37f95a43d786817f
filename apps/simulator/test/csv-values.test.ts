import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { HEADER, ok1, ok2, read, row } from "./csv-fixtures.ts";

afterAll(removeScratchDirs);
// Two replays of a small day in child processes: under a second, several on a busy shared machine.
setDefaultTimeout(60_000);

const NINE = "Tue, 10 Mar 2026 09:00:00 GMT";

describe("sessions CSV: a time is ISO 8601 (UTC unless it says otherwise) or RFC 1123 with its zone", () => {
  test.each([
    "2026-03-10T07:00:00Z",
    "2026-03-10T07:00Z",
    "2026-03-10 07:00",
    "2026-03-10T07:00:00.000",
    "2026-03-10t07:00:00z",
    "2026-03-10T09:00:00+02:00",
    "2026-03-10T02:00:00-0500",
    "2026-03-10T08:00+01",
    "Tue, 10 Mar 2026 07:00:00 GMT",
    "10 Mar 2026 07:00:00 UTC",
    "Tue, 10 Mar 2026 08:00:00 +0100",
    "Tue, 10 Mar 2026 07:00 GMT",
  ])("%s is 07:00 UTC", (from) => {
    const [a] = read([HEADER, row("a", "CA-1", from, NINE, 10)]);
    expect([a?.arriveMin, a?.departMin]).toEqual([420, 540]);
  });

  test.each([
    "1",
    "10",
    "Tue 99",
    "1/2/3",
    "03/10/2026 07:00",
    "2026-02-30",
    "2026-02-29T07:00:00Z",
    "2026-03-10T24:00:00Z",
    "2026-03-10T07:60Z",
    "2026-03-10T07:00:00+25:00",
    "Mon, 30 Feb 2026 07:00:00 GMT",
    "Tue, 10 Mar 2026 07:00:00",
    "Tue, 10 Foo 2026 07:00:00 GMT",
    "2026-03-10T07:00:00Z trailing",
  ])("%s is refused, naming the line and the column", (from) => {
    expect(() => read([HEADER, ok1, row("x", "CA-9", from, NINE, 5), ok2])).toThrow(
      `sessions.csv line 3: connectionTime is not a date: "${from}"`,
    );
  });

  test("a leap day is a date", () => {
    const [a] = read([HEADER, row("a", "CA-1", "2028-02-29T07:00:00Z", "Tue, 29 Feb 2028 09:00:00 GMT", 1)]);
    expect(a?.departMin).toBe(540);
  });

  test("zone-less times give the same report.json and sessions.csv bytes in New York as in UTC", async () => {
    const dir = scratchDir("evgrid-csv-tz-");
    const csv = [
      "stationID,connectionTime,disconnectTime,kWhDelivered",
      "A,2026-03-10 07:00,2026-03-10 09:30,12",
      "B,2026-03-10 17:15,2026-03-10 22:00,20",
      "C,2026-03-10 23:30,2026-03-11 06:00,30",
    ];
    writeFileSync(join(dir, "sessions.csv"), `${csv.join("\n")}\n`);
    const scenario = { name: "tz", substations: [{ id: "a", capacityKw: 20 }], sessionsCsv: "sessions.csv" };
    writeFileSync(join(dir, "scenario.json"), JSON.stringify(scenario));
    const main = resolve(import.meta.dir, "../src/main.ts");
    const run = async (tz: string) => {
      const out = join(dir, tz.replace("/", "-"));
      const child = Bun.spawn(["bun", main, "--scenario", join(dir, "scenario.json"), "--out", out], {
        env: { ...process.env, TZ: tz },
        stdout: "ignore",
        stderr: "pipe",
      });
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
      return ["report.json", "sessions.csv"].map((f) => readFileSync(join(out, f), "utf8"));
    };
    const [utc, newYork] = [await run("UTC"), await run("America/New_York")];
    expect(newYork).toEqual(utc);
  });
});

describe("sessions CSV: numbers are decimal, and a session's energy is at most the API's 1000 kWh", () => {
  const SEVEN = "Tue, 10 Mar 2026 07:00:00 GMT";
  const withKwh = (kwh: string) => row("x", "CA-9", SEVEN, NINE, kwh);

  test.each([
    ["12.5", 12.5],
    ["+7", 7],
    [".5", 0.5],
    ["1.5e1", 15],
    ["1000", 1000],
  ])("kWhDelivered %s is %d kWh", (kwh, want) => {
    expect(read([HEADER, withKwh(kwh)])[0]?.wantKwh).toBe(want);
  });

  test.each([
    ["0x1A", /line 3: kWhDelivered is not a number: "0x1A"/],
    ["0b11", /line 3: kWhDelivered is not a number: "0b11"/],
    ["Infinity", /line 3: kWhDelivered is not a number: "Infinity"/],
    ["1e308", /line 3: kWhDelivered must be at most 1000 kWh: "1e308"/],
    ["1000.5", /line 3: kWhDelivered must be at most 1000 kWh: "1000.5"/],
  ])("kWhDelivered %s is refused, naming the line", (kwh, message) => {
    expect(() => read([HEADER, ok1, withKwh(kwh), ok2])).toThrow(message);
  });

  test("a maxKw in hexadecimal is refused too", () => {
    expect(() => read([`${HEADER},maxKw`, `${ok1},0x10`])).toThrow(/line 2: maxKw must be a number/);
  });
});

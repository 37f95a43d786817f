import { describe, expect, test } from "bun:test";
import { runScript } from "@evgrid/testing";

/** Runs the soak as a user would. */
const soak = (args: string[]) => runScript("soak", args);

describe("bun run soak", () => {
  test("--help says what it measures", async () => {
    const { stdout, code } = await soak(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("--duration-s");
    expect(stdout).toContain("--retention-s");
  });

  test("a short soak admits every session, and retention keeps the journal to a retention's worth", async () => {
    const rate = 50;
    const retentionS = 1;
    const { stdout, code, stderr } = await soak([
      "--duration-s",
      "5",
      "--sample-s",
      "1",
      "--retention-s",
      String(retentionS),
      "--rate",
      String(rate),
      "--json",
    ]);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    const report = JSON.parse(stdout.slice(stdout.indexOf("{")));
    expect(Object.keys(report.outcomes)).toEqual(["OK"]);
    expect(report.samples.length).toBeGreaterThanOrEqual(4);
    const last = report.samples.at(-1);
    expect(last.admitted).toBeGreaterThanOrEqual(4 * rate);
    // Exported before pruned, and retention at work: ended sessions are leaving the journal. (How many by
    // the last sample depends on how late the machine ran the retention's ticks: the bound below is the point.)
    expect(last.exported).toBeGreaterThanOrEqual(last.pruned);
    expect(last.pruned).toBeGreaterThan(0);
    // Ended rows: what ended within the retention plus a tick or two, not everything since the start.
    expect(last.endedRows).toBeLessThanOrEqual(rate * (retentionS + 2));
    expect(report.startup.afterRunMs).toBeGreaterThan(0);
  }, 30_000);
});

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChargeGrant } from "@evgrid/contract";
import { runClient, startGrid } from "@evgrid/testing";
import { describeOutcome, formatSummary, type Outcome, summarize } from "../src/summary.ts";

setDefaultTimeout(30_000);

const grant = (substationId: string, allocatedKw: number) => ({ substationId, allocatedKw }) as ChargeGrant;
const outcomes: Outcome[] = [
  { index: 1, ok: true, grant: grant("substation-2", 11), latencyMs: 3 },
  { index: 2, ok: true, grant: grant("substation-1", 7.5), latencyMs: 3 },
  {
    index: 3,
    ok: false,
    code: "TOO_MANY_REQUESTS",
    reason: "GRID_FULL",
    message: "grid full",
    latencyMs: 2,
    refusedBy: ["substation-1", "substation-2"],
  },
];

describe("client output", () => {
  test("one line per answer in the original tester's words", () => {
    expect(outcomes.map(describeOutcome)).toEqual([
      "1: Routed to substation-2 (11.0 kW)",
      "2: Routed to substation-1 (7.5 kW)",
      "3: Refused: GRID_FULL (grid full)",
    ]);
  });

  test("the summary counts sessions, kW and refusals per substation", () => {
    const s = summarize(outcomes);
    expect(s).toMatchObject({ requests: 3, admitted: 2, failed: 1, byReason: { GRID_FULL: 1 } });
    expect(s.substations).toEqual([
      { substationId: "substation-1", sessions: 1, allocatedKw: 7.5, refusals: 1 },
      { substationId: "substation-2", sessions: 1, allocatedKw: 11, refusals: 1 },
    ]);
    expect(formatSummary(s)).toContain("3 requests: 2 admitted, 1 not admitted (GRID_FULL 1)");
  });
});

describe("bun run client", () => {
  test("--help explains every flag and exits 0", async () => {
    const { stdout, code } = await runClient(["--help"]);
    expect(code).toBe(0);
    for (const flag of [
      "--url",
      "--count",
      "--interval",
      "--concurrency",
      "--max-kw",
      "--duration-s",
      "--json",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  test("bad flags exit 2 naming the flag", async () => {
    const { stderr, code } = await runClient(["--count", "lots"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--count must be an integer");
  });

  test("prints a line per request and a per-substation summary; refusals are reported, not crashes", async () => {
    await using grid = await startGrid({ capacitiesKw: [8.4, 4.2] });
    const { stdout, code } = await runClient([
      "--url",
      grid.api.url,
      "--count",
      "4",
      "--interval",
      "0",
      "--duration-s",
      "30",
    ]);
    expect(code).toBe(0);
    expect(stdout.match(/^\d: Routed to substation-\d \(\d+\.\d kW\)$/gm)).toHaveLength(3);
    expect(stdout).toMatch(/^4: Refused: GRID_FULL/m);
    expect(stdout).toContain("4 requests: 3 admitted, 1 not admitted (GRID_FULL 1)");
  });

  test("an unreachable API is a failure (exit 1), not a hang", async () => {
    const { stdout, code } = await runClient(["--url", "http://127.0.0.1:9", "--count", "1"]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^1: Failed: UNREACHABLE/m);
  });
});

import { describe, expect, test } from "bun:test";
import type { RouterOutputs } from "@evgrid/charge-api";
import { describeOutcome, formatSummary, type Outcome, summarize } from "../src/summary.ts";

const grant = (substationId: string, allocatedKw: number) =>
  ({ substationId, allocatedKw }) as RouterOutputs["requestCharge"];
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

/**
 * StrayDraws on a hand-driven clock: when a charger drawing with no open transaction is counted, and when it
 * is caught (recorded for good). The books are a stand-in recording what it asked of them.
 */
import { describe, expect, test } from "bun:test";
import { createLogger } from "@evgrid/kit";
import type { Charger } from "../src/chargers.ts";
import type { GatewayMetrics } from "../src/metrics.ts";
import { type StrayBooks, StrayDraws } from "../src/stray-draw.ts";

const WINDOW_MS = 120_000;
const SILENT_MS = 600_000;
const ch = {
  cp: { chargePointId: "cp-1", substationId: "substation-1", maxKw: 22, connectors: 2 },
} as unknown as Charger;

function setUp() {
  const seen = { counted: 0, caught: 0, stopped: 0 };
  const books: StrayBooks = {
    countStray: () => void seen.counted++,
    catchStray: () => {
      seen.caught += 1;
      return true;
    },
    strayStopped: () => void seen.stopped++,
    strayDrawing: () => {},
    isCaught: () => seen.caught > 0,
    chargerOf: () => ch,
  };
  const metrics = { overdraw: () => {} } as unknown as GatewayMetrics;
  const strays = new StrayDraws(
    { windowMs: WINDOW_MS, marginKw: 1, silentMs: SILENT_MS },
    metrics,
    createLogger({ service: "test", quiet: true }),
  );
  const read = (atMs: number, powerW: number, transactionId?: string) =>
    strays.read(books, ch, 1, transactionId, { powerW }, atMs);
  return { seen, strays, read };
}

const HOUR = 3_600_000;

describe("StrayDraws", () => {
  test("a draw judged across a silence is counted, not caught, and its window starts again there", () => {
    const { seen, read } = setUp();
    read(0, 22_000);
    read(3 * HOUR, 22_000); // two single readings hours apart: counted while it lasts
    expect(seen).toEqual({ counted: 1, caught: 0, stopped: 0 });
    read(3 * HOUR + 10_000, 22_000); // 10 s later: not a window's draw yet (a review: it was caught here)
    expect(seen.caught).toBe(0);
    read(3 * HOUR + WINDOW_MS, 22_000); // a whole window of draw: caught
    expect(seen.caught).toBe(1);
  });

  test("the sample taken before its own stop starts no count", () => {
    const { seen, strays, read } = setUp();
    strays.txEnded("cp-1", 1, "tx-1");
    read(Date.now() + 1000, 11_000, "tx-1"); // its late sample, naming the transaction it ended
    const later = Date.now() + 3 * HOUR;
    read(later, 22_000); // a draw hours later (before its next start is accepted, say)
    read(later + 10_000, 22_000);
    expect(seen).toEqual({ counted: 0, caught: 0, stopped: 0 });
  });
});

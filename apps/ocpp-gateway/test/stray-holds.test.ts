/**
 * StrayHolds against a substation that fails, restarts and answers late: what the gateway asks it to hold,
 * and when. The substation's client is a stand-in recording each setDrawHold; failures are thrown as a link
 * would (no answer: retried with back-off).
 */
import { afterEach, describe, expect, jest, test } from "bun:test";
import { createLogger } from "@evgrid/kit";
import { eventually } from "@evgrid/testing";
import type { Grid } from "../src/grid.ts";
import { HOLD_SOURCE, StrayHolds } from "../src/stray-holds.ts";

const made: StrayHolds[] = [];
afterEach(() => {
  for (const h of made.splice(0)) h.close();
  jest.useRealTimers();
});

/** A substation whose setDrawHold fails while `down`; every call it took, in order. */
function substation() {
  const sub = { down: false, asked: [] as number[], tried: 0 };
  const client = {
    setDrawHold: {
      mutate: async ({ source, kw }: { source: string; kw: number }) => {
        sub.tried += 1;
        expect(source).toBe(HOLD_SOURCE);
        if (sub.down) throw new Error("link closed");
        sub.asked.push(kw);
        return {};
      },
    },
  };
  const grid = { site: () => client } as unknown as Grid;
  const holds = new StrayHolds(grid, createLogger({ service: "test", quiet: true }), 60_000);
  made.push(holds);
  return { sub, holds };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("StrayHolds", () => {
  test("a level from a substation that is back sends the count at once, not at the retry's end", async () => {
    const { sub, holds } = substation();
    holds.seen("substation-1", 0); // its first level: it holds nothing
    sub.down = true;
    holds.count("cp-1", "substation-1", 1, 22);
    await eventually(() => expect(sub.tried).toBe(1)); // failed: retried in a second or more
    sub.down = false;
    holds.seen("substation-1", 0); // its first level once back: it holds nothing
    await settled();
    expect(sub.asked).toEqual([22]);
  });

  test("a level that disagrees within a second of the last resend is looked at again, not dropped", async () => {
    const { sub, holds } = substation();
    holds.seen("substation-1", 0);
    holds.count("cp-1", "substation-1", 1, 22);
    await eventually(() => expect(sub.asked).toEqual([22]));
    holds.seen("substation-1", 0); // a level from before the hold: sent again
    await eventually(() => expect(sub.asked).toEqual([22, 22]));
    holds.seen("substation-1", 0); // it restarted at once: held back by the once-a-second limit...
    await eventually(() => expect(sub.asked).toEqual([22, 22, 22])); // ...and sent then
  });

  test("nothing is sent before the first level says what is held: a previous run's hold is not replaced", async () => {
    // A probe: a count sent first replaced the 44 kW a previous run held for two chargers with 22.
    const { sub, holds } = substation();
    holds.count("cp-a", "substation-1", 1, 22);
    await settled();
    expect(sub.asked).toEqual([]);
    holds.seen("substation-1", 44); // its first level: 22 more than counted, kept for the window
    await settled();
    expect(sub.asked).toEqual([]);
    expect(holds.wantedKw("substation-1")).toBe(44);
  });

  test("a hold found at a substation when the gateway starts is kept, and not counted twice", async () => {
    const { sub, holds } = substation();
    holds.seen("substation-1", 22); // left by the gateway's previous run
    await settled();
    expect(sub.asked).toEqual([]); // kept (for the window), not lifted at the first level
    expect(holds.wantedKw("substation-1")).toBe(22);
    holds.count("cp-1", "substation-1", 1, 22); // its charger, counted again
    expect(holds.wantedKw("substation-1")).toBe(22);
    expect(holds.countedKw("substation-1")).toBe(22);
  });

  test("a charge point held once however many of its connectors draw, and released only after the window", async () => {
    jest.useFakeTimers();
    const { sub, holds } = substation();
    holds.seen("substation-1", 0);
    holds.count("cp-1", "substation-1", 1, 22);
    holds.count("cp-1", "substation-1", 2, 22);
    await eventually(() => expect(sub.asked).toEqual([22]));
    holds.uncount("cp-1", 1);
    holds.uncount("cp-1", 2);
    expect(holds.countedKw("substation-1")).toBe(0); // the books no longer count it...
    expect(holds.wantedKw("substation-1")).toBe(22); // ...the substation holds it for the window
    jest.advanceTimersByTime(50_000);
    holds.drawing("cp-1"); // a reading over the margin, not counted yet: its release waits a window again
    jest.advanceTimersByTime(50_000); // 100 s after the last count, 50 s after that reading
    await settled();
    expect(sub.asked).toEqual([22]);
    jest.advanceTimersByTime(10_000); // a whole window (60 s) of nothing
    await settled();
    expect(sub.asked).toEqual([22, 0]);
  });

  test("a transaction held while stopping comes down soon after its end, unless a stray draw's release runs", async () => {
    jest.useFakeTimers();
    const { sub, holds } = substation(); // OCPP_OVERDRAW_S 60 s: its stopped release is 5 s
    holds.seen("substation-1", 0);
    holds.count("cp-1", "substation-1", 1, 22); // a transaction asked to stop, drawing on
    await settled();
    holds.uncount("cp-1", 1, true); // its end reported
    jest.advanceTimersByTime(4999);
    await settled();
    expect(sub.asked).toEqual([22]);
    jest.advanceTimersByTime(1);
    await settled();
    expect(sub.asked).toEqual([22, 0]);
    // A stray draw on connector 2 stopped (its 60 s release runs), then a stopping one on connector 1 ended:
    // the stray's release decides.
    holds.count("cp-1", "substation-1", 2, 22);
    holds.uncount("cp-1", 2);
    holds.count("cp-1", "substation-1", 1, 22);
    holds.uncount("cp-1", 1, true);
    jest.advanceTimersByTime(10_000);
    await settled();
    expect(sub.asked).toEqual([22, 0, 22]);
    jest.advanceTimersByTime(50_000);
    await settled();
    expect(sub.asked).toEqual([22, 0, 22, 0]);
  });
});

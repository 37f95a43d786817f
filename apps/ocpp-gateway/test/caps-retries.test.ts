/**
 * A cap or pin that could not be set is retried with back-off, per substation: one substation down for long
 * (its back-off grown to many seconds) must not make a failed pin at another wait as long. The timers are
 * Bun's fake ones; the substations are stand-ins that fail as a closed link would.
 */
import { afterEach, expect, jest, test } from "bun:test";
import { createLogger } from "@evgrid/kit";
import { Caps } from "../src/caps.ts";
import type { Charger } from "../src/chargers.ts";
import type { Grid } from "../src/grid.ts";
import type { Tx } from "../src/model.ts";
import { newTx } from "../src/transactions.ts";

afterEach(() => {
  jest.useRealTimers();
});

/** A charging transaction at `substationId`. */
function charging(substationId: string): Tx {
  const ch = { cp: { chargePointId: `cp-${substationId}`, substationId } } as unknown as Charger;
  const tx = newTx(ch, 1, `tx-${substationId}`, `ev-${substationId}`, null);
  tx.phase = {
    state: "charging",
    sessionId: `s-${substationId}`,
    limits: { minKw: 1.4, maxKw: 11, capKw: null, weight: 1 },
    admittedKw: 11,
    levelVersion: 0,
    chargePointKw: null,
    reclaimKw: null,
    energyKwh: null,
  };
  return tx;
}

const turns = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

test("a substation down for long does not slow another's retries", async () => {
  jest.useFakeTimers();
  const calls = { "substation-a": 0, "substation-b": 0 };
  const grid = {
    site: (id: "substation-a" | "substation-b") => ({
      setSessionCap: {
        mutate: async () => {
          calls[id] += 1;
          // a: down throughout; b: its first call lost, then up.
          if (id === "substation-a" || calls[id] === 1) throw new Error("link closed");
          return {};
        },
      },
    }),
  } as unknown as Grid;
  // Every session is pinned where its charger went offline at 5 kW: a cap to send.
  const caps = new Caps(
    grid,
    createLogger({ service: "test", quiet: true }),
    () => true,
    () => {},
    () => 5,
  );
  const a = charging("substation-a");
  const b = charging("substation-b");
  await caps.sync(a);
  for (const waitMs of [1000, 2000, 4000]) {
    jest.advanceTimersByTime(waitMs);
    await turns();
  }
  expect(calls["substation-a"]).toBe(4); // its next try is 8 s away
  await caps.sync(b);
  expect(calls["substation-b"]).toBe(1);
  jest.advanceTimersByTime(1000); // b's own first back-off, not a's 8 s
  await turns();
  expect(calls).toEqual({ "substation-a": 4, "substation-b": 2 });
  caps.close();
});

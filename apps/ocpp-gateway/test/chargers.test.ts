/**
 * Issue 17, finding 7: a power event and a vehicle look-up touch only what they concern. The table below
 * refuses to be walked whole: a re-share of one substation, among a thousand chargers at another, pushes
 * to its own chargers only, and "is this vehicle charging anywhere" is answered by the index.
 */
import { describe, expect, test } from "bun:test";
import { ChargerTable } from "../src/chargers.ts";
import type { ChargerLink, Tx } from "../src/model.ts";
import { Power } from "../src/power.ts";
import type { Pusher, PushTarget } from "../src/pusher.ts";
import { newTx } from "../src/transactions.ts";

class UnscannableTable extends ChargerTable {
  override all(): never {
    throw new Error("walked every charger");
  }
}

const link: ChargerLink = {
  protocol: "ocpp1.6",
  setLimit: async () => "Accepted",
  setDefaultLimit: async () => "Accepted",
  requestStop: async () => "Accepted",
  configureMeterReports: async () => "Accepted",
  configureStopOnInvalidId: async () => "Accepted",
  close: async () => {},
  onClose: () => {},
};

function charging(tx: Tx, levelVersion = -1): Tx {
  tx.phase = {
    state: "charging",
    sessionId: `s-${tx.chargePointId}`,
    limits: { minKw: 4.2, maxKw: 11, capKw: null, weight: 1 },
    admittedKw: 11,
    levelVersion,
    chargePointKw: null,
    reclaimKw: null,
    energyKwh: null,
  };
  return tx;
}

describe("the charger table's indexes", () => {
  test("a level at one substation reaches its chargers only; a vehicle is found without a scan", () => {
    const table = new UnscannableTable();
    const wanted: PushTarget[] = [];
    const pusher: Pusher = {
      opened: () => {},
      want: (t) => wanted.push(t),
      forget: () => {},
      drop: () => {},
      lastSent: () => null,
      setBudget: () => {},
      budgetW: () => null,
      online: async () => {},
      offline: () => {},
      isManaged: () => true,
      refusesLimits: () => false,
      heldW: () => null,
      unmanagedCount: () => 0,
      ignoresLimits: () => false,
      overdraws: () => false,
      trustAgain: () => false,
      allowance: () => null,
      close: () => {},
    };
    const power = new Power(table, pusher);
    const cp = (id: string, substationId: string) => ({
      chargePointId: id,
      substationId,
      maxKw: 11,
      connectors: 2,
      bootedAt: 1,
      overdrawnAt: null,
    });
    for (let i = 0; i < 1000; i++) {
      const ch = table.ensure(cp(`far-${i}`, "substation-2"));
      table.setLink(ch, link);
      table.addTx(ch, charging(newTx(ch, 1, `t-${i}`, `ev-far-${i}`, 0)), false);
    }
    const near = table.ensure(cp("near", "substation-1"));
    table.setLink(near, link);
    table.addTx(near, charging(newTx(near, 1, "t-near", "ev-near", 0)), false);

    power.onLevel("substation-1", 5, 100, Date.now());
    expect(wanted.map((t) => t.chargePointId)).toEqual(["near"]);
    expect(table.chargingVehicle("ev-far-999")).toBe(true);
    expect(table.chargingVehicle("ev-nobody")).toBe(false);
    expect([...table.atSubstation("substation-1")].length).toBe(1);
    expect(table.connectedCount).toBe(1001);
  });
});

/**
 * Draw holds at their edges, as a third charger probe and review found them: a charger caught while a
 * transaction of its is being stopped, one starting and stopping at a full site, one gone silent, one
 * reporting more rarely than a meter may, one naming a transaction that ended long ago, and an honest one
 * back after the offline grace while the grid's stop is slow.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";
import {
  backAfterGrace,
  drawing,
  drawsUntilCaught,
  FAST,
  held,
  holdsAsked,
  overdraws,
} from "./stray-setup.ts";

setDefaultTimeout(30_000);

describe("draw holds at their edges (30 kW site, 22 kW chargers)", () => {
  test("caught on one connector while its transaction on another is being stopped: held", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-2c", {
      maxKw: 22,
      connectors: 2,
      behaviour: { stopWhenAsked: false },
    });
    await hostile.startTransaction(1, "ev-hostile-2c");
    await eventually(() => expect(hostile.limit(1)).toBe(22_000));
    await grid.operator.stopSession.mutate({ sessionId: await ocpp.txSession("cp-hostile-2c") });
    await eventually(() => expect(hostile.limit(1)).toBe(0)); // asked to stop; it never reports the end
    await eventually(
      async () => {
        await drawing(hostile, 22_000, undefined, 2);
        expect(await overdraws(ocpp)).toBe(1);
      },
      { intervalMs: 100 },
    );
    await drawing(hostile, 0, undefined, 2); // connector 2 quiet again; connector 1's transaction still open
    const honest = await ocpp.charger("cp-honest-2c", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-2c");
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    expect(held(grid).heldDrawKw).toBe(22);
  });

  test("a transaction held while stopping that reads nothing is released, held again if it draws", async () => {
    // A review: only its reported end released it, so one whose StopTransaction was lost stayed held.
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-rn", { maxKw: 22, behaviour: { stopWhenAsked: false } });
    const txId = Number(await hostile.startTransaction(1, "ev-hostile-rn"));
    await eventually(() => expect(hostile.limit(1)).toBe(22_000));
    await grid.operator.stopSession.mutate({ sessionId: await ocpp.txSession("cp-hostile-rn") });
    await eventually(() => expect(hostile.limit(1)).toBe(0));
    await drawsUntilCaught(ocpp, "cp-hostile-rn", hostile, txId);
    await eventually(() => expect(held(grid).heldDrawKw).toBe(22));
    await drawing(hostile, 0, txId);
    await eventually(() => expect(held(grid).heldDrawKw).toBe(0));
    await drawing(hostile, 22_000, txId); // caught: held again at once
    await eventually(() => expect(held(grid).heldDrawKw).toBe(22));
  });

  test("a caught charger starting and stopping at a full site does not move the hold at its pace", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(5);
    // A window (and so a release delay) well over the ten starts' time on a busy machine.
    await using ocpp = await startOcppGateway(grid, { OCPP_OVERDRAW_S: "3" });
    const honest = await ocpp.charger("cp-honest-fs", { maxKw: 11 });
    await honest.startTransaction(1, "ev-honest-fs");
    await eventually(() => expect(honest.limit(1)).toBe(5000));
    const hostile = await ocpp.charger("cp-hostile-fs", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-fs", hostile);
    await drawing(hostile, 0);
    await eventually(() => expect(held(grid).heldDrawKw).toBe(0));
    const asked = holdsAsked(grid.substations[0]?.station);
    for (let n = 0; n < 10; n++) {
      await hostile.startTransaction(1, `ev-hostile-fs-${n}`); // turned away: no room to wait in
      await eventually(() => expect(hostile.transactions.size).toBe(0), { intervalMs: 10 });
    }
    // Held while the first of them was stopping, and released once, STOPPED_RELEASE_MS after the last.
    await eventually(() => expect(asked).toEqual([22, 0]), { timeoutMs: 15_000 });
  });

  test("a counted charger gone silent leaves the books, and its hold comes down", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_METER_SILENT_S: "1" });
    const other = await ocpp.charger("cp-other-sl", { maxKw: 22 });
    await other.startTransaction(1, "ev-other-sl");
    const hostile = await ocpp.charger("cp-hostile-sl", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-sl", hostile);
    await eventually(() => expect(other.limit(1)).toBe(8000));
    await hostile.close(); // gone: no reading from it any more
    await eventually(() => expect(other.limit(1)).toBe(22_000), { timeoutMs: 10_000 });
    expect(held(grid).heldDrawKw).toBe(0);
  });

  test("a charger reporting more rarely than a meter may is counted (held), not caught", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_METER_SILENT_S: "1" });
    const slow = await ocpp.charger("cp-slow-sl", { maxKw: 22 });
    await drawing(slow, 22_000);
    await Bun.sleep(1500); // the pace of this charger's readings: slower than OCPP_METER_SILENT_S
    await drawing(slow, 22_000);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    expect(books.heldW("cp-slow-sl", 1)).toBe(22_000);
    await eventually(() => expect(held(grid).heldDrawKw).toBe(22));
    expect(await overdraws(ocpp)).toBe(0);
  });

  test("a caught charger naming a transaction that ended long ago is counted at once", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-old", { maxKw: 22 });
    const txId = Number(await hostile.startTransaction(1, "ev-hostile-old"));
    await hostile.stopTransaction(1);
    await drawsUntilCaught(ocpp, "cp-hostile-old", hostile); // caught (no transaction named)
    await drawing(hostile, 0);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    await eventually(() => expect(books.heldW("cp-hostile-old", 1)).toBeNull());
    // More than a window after that end: its old transaction's id earns it no window.
    await drawing(hostile, 22_000, txId);
    expect(books.heldW("cp-hostile-old", 1)).toBe(22_000);
  });

  test("an honest charger back after the offline grace while the grid's stop is slow: not caught", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_OFFLINE_GRACE_S: "1" });
    // biome-ignore lint/suspicious/noExplicitAny: a grid slow to confirm a stop (the gateway's outbox).
    const outbox = (ocpp.gateway.gateway as any).outbox;
    const attempt = outbox.attempt.bind(outbox);
    let slow = true;
    outbox.attempt = async (stop: unknown) => {
      while (slow) await Bun.sleep(50); // held until the readings below are in
      return attempt(stop);
    };
    const { back, txId } = await backAfterGrace(ocpp, "cp-slow-grace");
    const t0 = Date.now();
    while (Date.now() - t0 < 800) {
      await drawing(back, 22_000, txId);
      await Bun.sleep(100); // the pace of a charger's readings, not a wait for something
    }
    slow = false;
    expect(await overdraws(ocpp)).toBe(0);
  });
});

/**
 * A charger whose meter shows it drawing on a connector with no open transaction (after its own stop, after
 * its start was refused): its readings were dropped, so it was neither caught nor counted (a hostile-charger
 * probe: 22 kW drawn beside others given the whole site). Now, over the margin for OCPP_OVERDRAW_S, it is
 * caught (takes no limits, recorded) and that connector counts at its maximum in the site's books until it
 * reports drawing nothing: no limit is raised into that power meanwhile, and its substation holds that power
 * for it (ocpp-stray-hold.test.ts: the limits others accepted before are lowered to fit beside it).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, meterValue, startGrid, startOcppGateway } from "@evgrid/testing";
import { backAfterGrace, drawing, drawsUntilCaught, FAST, listed, overdraws } from "./stray-setup.ts";

setDefaultTimeout(30_000);

/** Readings at a charger's pace for twice the over-draw window: each judged once answered. */
async function drawsFor(ms: number, read: () => Promise<unknown>) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    await read();
    await Bun.sleep(100); // the pace of a charger's readings, not a wait for something
  }
}

describe("a charger drawing 22 kW on a connector with no open transaction (30 kW site)", () => {
  test("after reporting its own stop: caught, and counted until it reports drawing nothing", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-nt", { maxKw: 22 });
    const txId = Number(await hostile.startTransaction(1, "ev-hostile-nt"));
    await eventually(() => expect(hostile.limit(1)).toBe(22_000));
    await hostile.stopTransaction(1); // its own stop; it draws on
    await drawsUntilCaught(ocpp, "cp-hostile-nt", hostile, txId); // naming the transaction it ended
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    await eventually(() => expect(books.committedW("substation-1")).toBe(22_000));
    // A car arriving at another charger: the substation holds 22 kW for that draw, so it shares out 8; the
    // car gets 8 kW, not the 22 it could take.
    const other = await ocpp.charger("cp-other-nt", { maxKw: 22 });
    await other.startTransaction(1, "ev-other-nt");
    await ocpp.txSession("cp-other-nt");
    await eventually(() => expect(other.limit(1)).toBe(8000));
    // Drawing nothing again: the connector leaves the books, and the other car gets its share.
    await drawing(hostile, 0);
    await eventually(() => expect(other.limit(1)).toBe(22_000));
    expect(books.committedW("substation-1")).toBe(22_000);
  });

  test("after its StartTransaction was refused (ConcurrentTx): caught", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const honest = await ocpp.charger("cp-honest-rf", { maxKw: 22 });
    const hostile = await ocpp.charger("cp-hostile-rf", { maxKw: 22 });
    await honest.startTransaction(1, "ev-shared-rf");
    const refused = (await hostile.client.call("StartTransaction", {
      connectorId: 1,
      idTag: "ev-shared-rf",
      meterStart: 10_000,
      timestamp: new Date().toISOString(),
    })) as { transactionId: number; idTagInfo: { status: string } };
    expect(refused.idTagInfo.status).toBe("ConcurrentTx");
    await drawsUntilCaught(ocpp, "cp-hostile-rf", hostile, refused.transactionId);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    expect(books.heldW("cp-hostile-rf", 1)).toBe(22_000);
    // It stops the transaction its readings named: that connector leaves the books (a review: an idle
    // connector sends no more readings, and it stayed counted for good).
    await hostile.client.call("StopTransaction", {
      transactionId: refused.transactionId,
      meterStop: 10_000,
      timestamp: new Date().toISOString(),
    });
    expect(books.heldW("cp-hostile-rf", 1)).toBeNull();
  });

  test("2.0.1, after its own TransactionEvent Ended, readings naming no transaction: caught", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-201", { maxKw: 22, protocol: "ocpp2.0.1" });
    await hostile.startTransaction(1, "ev-hostile-201");
    await hostile.stopTransaction(1);
    await eventually(
      async () => {
        await hostile.meter(1, { powerW: 22_000 }); // MeterValues, evse 1
        expect(await overdraws(ocpp)).toBe(1);
      },
      { intervalMs: 100 },
    );
    expect((await listed(ocpp, "cp-hostile-201"))?.managed).toBe(false);
  });

  test("2.0.1, TransactionEvents of the transaction it ended, their EVSE not named: caught, and counted there", async () => {
    // A charger probe: readings in a TransactionEvent for a transaction the gateway no longer has were
    // dropped; a 2.0.1 charger names its EVSE only in a transaction's first event.
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-te", { maxKw: 22, protocol: "ocpp2.0.1" });
    const transactionId = await hostile.startTransaction(1, "ev-hostile-te");
    await hostile.stopTransaction(1);
    let seqNo = 100;
    const updated = () =>
      hostile.client.call("TransactionEvent", {
        eventType: "Updated",
        timestamp: new Date().toISOString(),
        triggerReason: "MeterValuePeriodic",
        seqNo: seqNo++,
        transactionInfo: { transactionId, chargingState: "Charging" },
        meterValue: [meterValue(false, { powerW: 22_000 })],
      });
    await eventually(
      async () => {
        await updated();
        expect(await overdraws(ocpp)).toBe(1);
      },
      { intervalMs: 100 },
    );
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    expect(books.heldW("cp-hostile-te", 1)).toBe(22_000);
  });

  test("an honest charger's main meter (connector 0) reporting its transactions' draw is not caught", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const cp = await ocpp.charger("cp-main-meter", { maxKw: 22 });
    await cp.startTransaction(1, "ev-main-meter");
    const mainMeter = (powerW: number) =>
      cp.client.call("MeterValues", {
        connectorId: 0,
        meterValue: [
          {
            timestamp: new Date().toISOString(),
            sampledValue: [{ value: String(powerW), measurand: "Power.Active.Import", unit: "W" }],
          },
        ],
      });
    // Readings over the whole over-draw window, twice over (what a stray draw is judged on).
    const t0 = Date.now();
    while (Date.now() - t0 < 800) {
      await mainMeter(22_000);
      await Bun.sleep(100); // the pace of a charger's readings, not a wait for something
    }
    // A reading of its transaction's own connector after them: everything before it was handled.
    await cp.meter(1, { powerW: 22_000 });
    await eventually(async () => expect((await listed(ocpp, "cp-main-meter"))?.managed).toBe(true));
    expect(await overdraws(ocpp)).toBe(0);
  });

  test("an honest charger back after the offline grace, reporting the transaction the gateway ended: not caught", async () => {
    // A review: the gateway ends a transaction itself when its charger stays away past the grace, and the
    // charger, not told, reports it on when it is back: it was caught (recorded until an operator clears it).
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_OFFLINE_GRACE_S: "1" });
    const id = "cp-back-late";
    const { back, txId } = await backAfterGrace(ocpp, id);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    // Its default in force again first (a review: the draw was then booked at the default, 0 W).
    await eventually(() => expect(books.hasDefault(id)).toBe(true));
    await drawsFor(800, () => drawing(back, 22_000, txId));
    // The car pauses a moment, and charges on (a probe: the pause lost it its exemption, and it was caught).
    await drawing(back, 0, txId);
    await drawsFor(800, () => drawing(back, 22_000, txId));
    expect(await overdraws(ocpp)).toBe(0);
    expect((await listed(ocpp, id))?.overdrawnAt ?? null).toBeNull();
    expect(books.committedW("substation-1")).toBe(22_000); // counted: no session holds that draw
    // Told, it stops it, and sends the sample it took before (a probe: that one reading caught it).
    await back.client.call("StopTransaction", {
      transactionId: txId,
      meterStop: 1,
      timestamp: new Date().toISOString(),
    });
    await drawing(back, 21_000, txId);
    expect(await overdraws(ocpp)).toBe(0);
    // Drawing on with no transaction named is judged as any other (a review: it was not).
    await drawsUntilCaught(ocpp, id, back);
  });

  test("Available, or the stop of a transaction it made up, between its readings: still caught", async () => {
    // A review: either wiped the count, so a charger sending them more often than OCPP_OVERDRAW_S was never
    // judged, and one already caught left the books while it drew on.
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const cp = await ocpp.charger("cp-wiper", { maxKw: 22 });
    let made = 90_000;
    await eventually(
      async () => {
        made += 1;
        await drawing(cp, 22_000, made);
        await cp.client.call("StatusNotification", {
          connectorId: 1,
          errorCode: "NoError",
          status: "Available",
        });
        await cp.client.call("StopTransaction", {
          transactionId: made,
          meterStop: 1,
          timestamp: new Date().toISOString(),
        });
        expect(await overdraws(ocpp)).toBe(1);
      },
      { intervalMs: 100 },
    );
    // Caught: a reading over the margin after an Available is counted again at once.
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    await drawing(cp, 22_000);
    expect(books.committedW("substation-1")).toBe(22_000);
  });

  test("connectors the charge point does not have are not judged, nor booked", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    const cp = await ocpp.charger("cp-bogus-connectors", { maxKw: 22, connectors: 1 });
    await drawsFor(800, async () => {
      for (const c of [2, 3, 99]) await drawing(cp, 22_000, undefined, c);
    });
    expect(await overdraws(ocpp)).toBe(0);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    expect(books.committedW("substation-1")).toBe(0);
    // Its one connector is judged (a later event that must follow): caught, and only it counted.
    await drawsUntilCaught(ocpp, "cp-bogus-connectors", cp);
    expect(books.committedW("substation-1")).toBe(22_000);
  });

  test("a charge point removed and registered again: its stray draw is counted again", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid, FAST);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    const first = await ocpp.charger("cp-readded", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-readded", first);
    await eventually(() => expect(books.committedW("substation-1")).toBe(22_000));
    await first.close();
    await ocpp.admin.removeChargePoint.mutate({ chargePointId: "cp-readded" });
    await eventually(() => expect(books.committedW("substation-1")).toBe(0));
    const again = await ocpp.charger("cp-readded", { maxKw: 22 });
    await eventually(
      async () => {
        await drawing(again, 22_000);
        expect(books.committedW("substation-1")).toBe(22_000);
      },
      { intervalMs: 100 },
    );
  });
});

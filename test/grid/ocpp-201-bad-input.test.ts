/**
 * OCPP 2.0.1's TransactionEvent under broken or hostile chargers, case for case what the 1.6 tests
 * (ocpp-bad-input.test.ts) check of StartTransaction / StopTransaction: the right CALLERROR, the connection
 * kept, and the grid's sessions matching the gateway's transactions.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually } from "@evgrid/testing";
import { type Frame, kind, rawGateway } from "./ocpp-raw.ts";

setDefaultTimeout(60_000);

interface EventOpts {
  evse?: number | null;
  token?: string | null;
  seqNo?: number;
  offline?: boolean;
  meterValue?: unknown;
}

/** A TransactionEvent payload; `null` leaves a field out. */
function event(eventType: string, transactionId: string, o: EventOpts = {}) {
  const token = o.token === undefined ? `ev-${transactionId}` : o.token;
  return {
    eventType,
    timestamp: new Date().toISOString(),
    triggerReason: eventType === "Ended" ? "StopAuthorized" : "Authorized",
    seqNo: o.seqNo ?? 0,
    transactionInfo: { transactionId },
    ...(token === null ? {} : { idToken: { idToken: token, type: "Central" } }),
    ...(o.evse === null ? {} : { evse: { id: o.evse ?? 1, connectorId: 1 } }),
    ...(o.offline === undefined ? {} : { offline: o.offline }),
    ...(o.meterValue === undefined ? {} : { meterValue: o.meterValue }),
  };
}

const tokenStatus = (f: Frame | null) =>
  (f?.[2] as { idTokenInfo?: { status?: string } } | undefined)?.idTokenInfo?.status;

const energy = (value: unknown) => [
  {
    timestamp: new Date().toISOString(),
    sampledValue: [{ value, measurand: "Energy.Active.Import.Register" }],
  },
];

describe("2.0.1 TransactionEvent", () => {
  test("before BootNotification only BootNotification is served (SecurityError)", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-unbooted", false);
    expect(kind(await c.call("Heartbeat", {}))).toBe("SecurityError");
    expect(kind(await c.call("TransactionEvent", event("Started", "t-1")))).toBe("SecurityError");
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-1") }),
    ).toBeNull();
    const boot = { reason: "PowerUp", chargingStation: { model: "raw", vendorName: "evgrid" } };
    expect(kind(await c.call("BootNotification", boot))).toBe("result");
    expect(kind(await c.call("Heartbeat", {}))).toBe("result");
  });

  test("Started without an evse, on a busy evse, and repeated", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-start");
    expect(kind(await c.call("TransactionEvent", event("Started", "t-1", { evse: null })))).toBe(
      "OccurrenceConstraintViolation",
    );
    expect(tokenStatus(await c.call("TransactionEvent", event("Started", "t-1")))).toBe("Accepted");
    // The same Started again (a lost answer retried): the same transaction, nothing new booked.
    expect(tokenStatus(await c.call("TransactionEvent", event("Started", "t-1", { seqNo: 0 })))).toBe(
      "Accepted",
    );
    expect(kind(await c.call("TransactionEvent", event("Started", "t-2", { evse: 1 })))).toBe("GenericError");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-1") }),
      ).not.toBeNull(),
    );
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-2") }),
    ).toBeNull();
    const [cp] = await s.ocpp.admin.listChargePoints.query();
    expect(cp?.transactions.map((t) => t.transactionId)).toEqual(["t-1"]);
    expect(c.closed).toBeNull();
  });

  test("Updated and Ended of an unknown transaction are acknowledged and change nothing", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-unknown");
    expect(kind(await c.call("TransactionEvent", event("Updated", "t-none", { seqNo: 3 })))).toBe("result");
    expect(kind(await c.call("TransactionEvent", event("Ended", "t-none", { seqNo: 4 })))).toBe("result");
    const [cp] = await s.ocpp.admin.listChargePoints.query();
    expect(cp?.transactions).toEqual([]);
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-none") }),
    ).toBeNull();
  });

  test("Ended stops the session; the transactionId cannot be started again", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-reuse");
    expect(kind(await c.call("TransactionEvent", event("Started", "t-9")))).toBe("result");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-9") }),
      ).not.toBeNull(),
    );
    expect(kind(await c.call("TransactionEvent", event("Ended", "t-9", { seqNo: 1 })))).toBe("result");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-9") }),
      ).toBeNull(),
    );
    // An Ended retried after it was processed: acknowledged, nothing else.
    expect(kind(await c.call("TransactionEvent", event("Ended", "t-9", { seqNo: 1 })))).toBe("result");
    expect(kind(await c.call("TransactionEvent", event("Started", "t-9", { seqNo: 2 })))).toBe(
      "PropertyConstraintViolation",
    );
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-9") }),
    ).toBeNull();
  });

  test("an invalid idToken books nothing; a valid one in a later Updated binds the transaction", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-token");
    expect(
      tokenStatus(await c.call("TransactionEvent", event("Started", "t-3", { token: "bad tag!" }))),
    ).toBe("Invalid");
    // No idToken at all: no idTokenInfo in the answer.
    const none = await c.call("TransactionEvent", event("Started", "t-4", { evse: 2, token: null }));
    expect(none).toMatchObject([3, expect.any(String), {}]);
    expect(tokenStatus(none)).toBeUndefined();
    let books = await s.booksAgree();
    expect(books.active.size).toBe(0);
    expect(
      tokenStatus(await c.call("TransactionEvent", event("Updated", "t-3", { token: "ev-late", seqNo: 1 }))),
    ).toBe("Accepted");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-late") }),
      ).not.toBeNull(),
    );
    // The substation admits before the gateway binds the answer: wait for both books to agree.
    await eventually(async () => {
      books = await s.booksAgree();
      expect(books.active).toEqual(books.bound);
      expect(books.bound.size).toBe(1);
    });
  });

  test("garbage meter values: a violation or ignored, never an internal error; the session stays bound", async () => {
    await using s = await rawGateway({ OCPP_MAX_BAD_MESSAGES: "1000" });
    const c = await s.raw201("cp-meter");
    expect(kind(await c.call("TransactionEvent", event("Started", "t-5")))).toBe("result");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-5") }),
      ).not.toBeNull(),
    );
    const garbage: unknown[] = [
      energy(-5000),
      energy(1e300),
      energy(0),
      energy("12"),
      energy(null),
      [{ timestamp: "yesterday", sampledValue: [{ value: 1 }] }],
      [{ timestamp: new Date().toISOString(), sampledValue: [] }],
      [],
      "not a list",
      [{ timestamp: new Date().toISOString(), sampledValue: [{ value: 5, measurand: "Nope" }] }],
    ];
    const answers = new Set<string>();
    for (const [i, meterValue] of garbage.entries()) {
      const k = kind(await c.call("TransactionEvent", event("Updated", "t-5", { seqNo: i + 1, meterValue })));
      answers.add(k);
      expect(k === "result" || k.endsWith("Violation")).toBe(true);
    }
    expect(answers.has("InternalError")).toBe(false);
    expect(c.closed).toBeNull();
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-5") }),
    ).not.toBeNull();
    const books = await s.booksAgree();
    expect(books.active).toEqual(books.bound);
  });

  test("seqNo repeated, out of order or with gaps, and offline events, are taken as they come", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-seq");
    const send = (type: string, o: EventOpts) => c.call("TransactionEvent", event(type, "t-6", o));
    expect(kind(await send("Started", { seqNo: 5, offline: true }))).toBe("result");
    expect(kind(await send("Updated", { seqNo: 2, meterValue: energy(100) }))).toBe("result");
    expect(kind(await send("Updated", { seqNo: 2, meterValue: energy(100) }))).toBe("result");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-6") }),
      ).not.toBeNull(),
    );
    expect(kind(await send("Ended", { seqNo: 100, offline: true, meterValue: energy(900) }))).toBe("result");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-6") }),
      ).toBeNull(),
    );
  });

  test("OCPP_MAX_TRANSACTIONS bounds 2.0.1 transactions too", async () => {
    await using s = await rawGateway({ OCPP_MAX_TRANSACTIONS: "2" });
    // Room for three by its EVSEs and its power: the limit of open transactions is what refuses the third.
    const c = await s.raw201("cp-many", true, { maxKw: 22, connectors: 4 });
    for (const evse of [1, 2]) {
      expect(kind(await c.call("TransactionEvent", event("Started", `t-m${evse}`, { evse })))).toBe("result");
    }
    expect(kind(await c.call("TransactionEvent", event("Started", "t-m3", { evse: 3 })))).toBe(
      "GenericError",
    );
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-t-m3") }),
    ).toBeNull();
  });

  test("a frame over 64 KiB closes the connection with 1009; the charger reconnects and is served", async () => {
    await using s = await rawGateway();
    const c = await s.raw201("cp-big");
    const huge = event("Updated", "t-big", { meterValue: energy(1) });
    await c.send([2, "big", "TransactionEvent", { ...huge, padding: "y".repeat(70_000) }], "big");
    await eventually(() => expect(c.closed?.code).toBe(1009));
    const again = await s.raw201("cp-big");
    expect(kind(await again.call("Heartbeat", {}))).toBe("result");
  });
});

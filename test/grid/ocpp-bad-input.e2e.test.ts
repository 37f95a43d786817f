/**
 * The OCPP endpoint under hostile or broken chargers: refused before the WebSocket opens when not who they
 * say, and a CALLERROR with the right code for every bad message (the connection stays open where OCPP-J
 * allows). The fuzz run is in ocpp-fuzz.e2e.test.ts.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { walkInVehicleId } from "@evgrid/contract";
import { eventually } from "@evgrid/testing";
import { boot16, setUp } from "./ocpp-bad-input-setup.ts";
import { type Frame, kind, RawCharger, upgradeHeaders } from "./ocpp-raw.ts";

setDefaultTimeout(60_000);

describe("who may connect", () => {
  test("a wrong password, an unknown id, no OCPP subprotocol or another path: refused before the WebSocket opens", async () => {
    await using s = await setUp();
    const url = s.ocpp.gateway.ocppUrl;
    await expect(RawCharger.open(url, "cp-raw", "wrong-password-wrong")).rejects.toThrow("refused");
    await expect(RawCharger.open(url, "cp-nobody", s.password)).rejects.toThrow("refused");
    await expect(RawCharger.open(url, "cp-raw", s.password, "wamp")).rejects.toThrow("refused");
    const opens = (ws: WebSocket) =>
      new Promise<boolean>((resolve) => {
        ws.onopen = () => resolve(true);
        ws.onerror = () => resolve(false);
      });
    expect(await opens(new WebSocket(`${url}/cp-raw`, ["ocpp1.6"]))).toBe(false); // no credentials
    const elsewhere = `${url.replace(/\/ocpp$/, "/other")}/cp-raw`;
    expect(await opens(new WebSocket(elsewhere, ["ocpp1.6"]))).toBe(false);
    // The status a stranger sees does not say whether the id exists.
    const status = async (id: string, password: string) => {
      const res = await fetch(`${url.replace("ws:", "http:")}/${id}`, {
        headers: upgradeHeaders(id, password),
      }).catch((e) => e);
      return res instanceof Response ? res.status : String(res);
    };
    expect(await status("cp-nobody", "whatever-password")).toBe(
      await status("cp-raw", "wrong-password-wrong"),
    );
    const metrics = await (await fetch(`${s.ocpp.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/evgrid_ocpp_connections_refused_total\{[^}]*reason="password"[^}]*\} [1-9]/);
    // And the right one still gets in.
    const ok = await s.raw();
    expect(await ok.call("BootNotification", boot16)).toMatchObject([
      3,
      expect.any(String),
      { status: "Accepted" },
    ]);
    ok.ws.close();
  });
});

describe("bad messages get the OCPP-J error, and the connection stays open", () => {
  test("before BootNotification only BootNotification is served (SecurityError)", async () => {
    await using s = await setUp();
    const c = await s.raw();
    expect(kind(await c.call("Heartbeat", {}))).toBe("SecurityError");
    expect(await c.call("BootNotification", boot16)).toMatchObject([
      3,
      expect.any(String),
      { status: "Accepted" },
    ]);
    expect(await c.call("Heartbeat", {})).toMatchObject([
      3,
      expect.any(String),
      { currentTime: expect.any(String) },
    ]);
  });

  test("malformed frames, unknown actions, schema violations, a wrong message type id", async () => {
    await using s = await setUp({ OCPP_MAX_BAD_MESSAGES: "1000" });
    const c = await s.raw();
    await c.call("BootNotification", boot16);
    const code = (f: Frame | null) =>
      f?.[0] === 4 ? f[2] : f === null ? "no answer" : `not an error: ${JSON.stringify(f)}`;
    expect(code(await c.send("this is not json"))).toMatch(
      /FormationViolation|ProtocolError|RpcFrameworkError/,
    );
    expect(code(await c.call("Teleport", {}))).toBe("NotImplemented");
    expect(code(await c.call("StartTransaction", { connectorId: 1 }))).toMatch(/Violation/);
    expect(
      code(
        await c.call("StartTransaction", { connectorId: "one", idTag: "x", meterStart: 0, timestamp: "now" }),
      ),
    ).toMatch(/Violation/);
    expect(code(await c.probe(JSON.stringify([7, "abc", "Heartbeat", {}])))).toMatch(
      /MessageTypeNotSupported|ProtocolError|RpcFrameworkError/,
    );
    // Still served.
    expect(await c.call("Heartbeat", {})).toMatchObject([
      3,
      expect.any(String),
      { currentTime: expect.any(String) },
    ]);
    expect(c.closed).toBeNull();
  });

  test("a schema failure is answered without its payload; more than OCPP_MAX_BAD_MESSAGES in a row close", async () => {
    await using s = await setUp({ OCPP_MAX_BAD_MESSAGES: "3" });
    const c = await s.raw();
    await c.call("BootNotification", boot16);
    // Nested 20,000 deep, under the frame limit: its echo cost the gateway's one thread half a second.
    const deep = JSON.parse(`${"[".repeat(20_000)}${"]".repeat(20_000)}`);
    const answer = await c.call("Heartbeat", deep);
    expect(answer?.[0]).toBe(4);
    expect(answer?.[4]).toEqual({}); // no details: nothing of what was sent comes back
    expect(JSON.stringify(answer).length).toBeLessThan(400);
    // A good call between bad ones starts the count again (as for unreadable frames).
    expect(kind(await c.call("Heartbeat", {}))).toBe("result");
    for (let i = 0; i < 3; i++) expect(kind(await c.call("Heartbeat", [i]))).toMatch(/Violation/);
    expect(c.closed).toBeNull();
    await c.send([2, "bad-4", "Heartbeat", [4]], "bad-4");
    await eventually(() => expect(c.closed?.code).toBe(1002));
  });

  test("a flood of messages, valid or not, closes the connection (1008); a charger within the rate is served", async () => {
    await using s = await setUp({ OCPP_MESSAGES_PER_S: "5", OCPP_MESSAGE_BURST: "20" });
    const c = await s.raw();
    await c.call("BootNotification", boot16);
    // Sent without waiting for answers, as a flooding charger does: the 21st message finds no token.
    for (let i = 0; i < 40; i++) void c.send([2, `flood-${i}`, "Heartbeat", {}], `flood-${i}`);
    await eventually(() => expect(c.closed?.code).toBe(1008));
    // Another connection has its own budget; its burst is plenty for a charger's boot.
    const calm = await s.raw();
    await calm.call("BootNotification", boot16);
    for (let i = 0; i < 10; i++) expect(kind(await calm.call("Heartbeat", {}))).toBe("result");
    expect(calm.closed).toBeNull();
  });

  test("a frame over 64 KiB closes the connection with 1009 and nothing else happens", async () => {
    await using s = await setUp();
    const c = await s.raw();
    await c.call("BootNotification", boot16);
    await c.send([2, "big", "DataTransfer", { vendorId: "x", data: "y".repeat(70_000) }], "big");
    await eventually(() => expect(c.closed?.code).toBe(1009));
    const again = await s.raw();
    expect(kind(await again.call("Heartbeat", {}))).toBe("result");
  });

  test("a StartTransaction on a charging connector, and a reused 2.0.1 transactionId", async () => {
    await using s = await setUp();
    const c = await s.raw();
    await c.call("BootNotification", boot16);
    const start = { connectorId: 1, idTag: "ev-one", meterStart: 0, timestamp: new Date().toISOString() };
    const first = await c.call("StartTransaction", start);
    expect(first).toMatchObject([3, expect.any(String), { idTagInfo: { status: "Accepted" } }]);
    // The same vehicle again (a lost answer retried): the same transaction.
    const retry = await c.call("StartTransaction", start);
    const txIdOf = (f: Frame | null) => (f?.[2] as { transactionId?: number } | undefined)?.transactionId;
    expect(txIdOf(retry)).toBe(txIdOf(first) as number);
    expect(kind(await c.call("StartTransaction", { ...start, idTag: "ev-two" }))).toBe("GenericError");
    await eventually(async () =>
      expect(
        await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-one") }),
      ).not.toBeNull(),
    );
    expect(
      await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-two") }),
    ).toBeNull();
    c.ws.close();

    const d = await s.booted201("cp-201");
    const event = (eventType: string, transactionId: string, evse: number, seqNo: number) => ({
      eventType,
      timestamp: new Date().toISOString(),
      triggerReason: "Authorized",
      seqNo,
      transactionInfo: { transactionId },
      idToken: { idToken: `ev-${transactionId}`, type: "Central" },
      evse: { id: evse, connectorId: 1 },
    });
    expect(kind(await d.call("TransactionEvent", event("Started", "t-1", 1, 0)))).toBe("result");
    expect(kind(await d.call("TransactionEvent", event("Started", "t-1", 2, 1)))).toBe(
      "PropertyConstraintViolation",
    );
    expect(kind(await d.call("TransactionEvent", event("Ended", "t-1", 1, 2)))).toBe("result");
    // Ended, then started again with the same id: refused.
    expect(kind(await d.call("TransactionEvent", event("Started", "t-1", 1, 3)))).toBe(
      "PropertyConstraintViolation",
    );
    d.ws.close();
  });
});

test("a charge point may hold only so many open transactions (OCPP_MAX_TRANSACTIONS): each books grid power", async () => {
  await using s = await setUp({ OCPP_MAX_TRANSACTIONS: "2" });
  // Room for three by its connectors and its power: the limit of open transactions is what refuses the third.
  await s.ocpp.admin.registerChargePoint.mutate({
    chargePointId: "cp-raw",
    substationId: "substation-1",
    password: s.password,
    maxKw: 22,
    connectors: 4,
  });
  const c = await s.raw();
  await c.call("BootNotification", boot16);
  const start = (connectorId: number) =>
    c.call("StartTransaction", {
      connectorId,
      idTag: `ev-many-${connectorId}`,
      meterStart: 0,
      timestamp: new Date().toISOString(),
    });
  expect(kind(await start(1))).toBe("result");
  expect(kind(await start(2))).toBe("result");
  expect(kind(await start(3))).toBe("GenericError");
  expect(
    await s.grid.operator.findVehicleSession.query({ vehicleId: walkInVehicleId("ev-many-3") }),
  ).toBeNull();
});

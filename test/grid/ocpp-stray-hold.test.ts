/**
 * A charger drawing on a connector with no open transaction was caught and counted in the gateway's books,
 * but its substation held nothing for it: a charger that had accepted 22 kW on a 30 kW site kept it beside
 * the 22 kW drawn (44 kW on 30) until its session ended. The gateway now asks the substation to hold that
 * power (setDrawHold): the site's shares, and so the limits chargers accepted, are lowered to fit beside it,
 * and raised again once it draws nothing. A hold is not journaled: each level event says what is held, and
 * the gateway sets it again when that is not its count (a restarted substation, a restarted gateway).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { eventually, SimulatedChargePoint, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";
import { acceptedSince, drawing, drawsUntilCaught, FAST, held, holdsAsked } from "./stray-setup.ts";

setDefaultTimeout(30_000);

describe("a charger drawing 22 kW with no open transaction, on a 30 kW site", () => {
  test("the limit another charger accepted before is lowered to fit beside it, and raised once it stops", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const honest = await ocpp.charger("cp-honest-sh", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-sh");
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
    const hostile = await ocpp.charger("cp-hostile-sh", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-sh", hostile);
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 22, effectiveCapacityKw: 8 }));
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (ocpp.gateway.gateway as any).pusher;
    // 8 accepted + 22 drawn, on 30 (once the charger's answer to the lower limit is in).
    await eventually(() => expect(books.committedW("substation-1")).toBe(30_000));
    // Drawing nothing: the hold is lifted, and the honest charger raised again.
    await drawing(hostile, 0);
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 0, effectiveCapacityKw: 30 }));
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
  });

  test("flipping between Available and drawing 22 kW does not make its substation re-share each time", async () => {
    // Available takes a connector out of the books, and its next reading over the margin counts it again at
    // once. A hold comes down only once the charge point has drawn nothing for OCPP_OVERDRAW_S: without that,
    // each flip lifted it and set it again, and the substation re-shared the site twice a flip.
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_OVERDRAW_S: "1" });
    const honest = await ocpp.charger("cp-honest-fl", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-fl");
    const hostile = await ocpp.charger("cp-hostile-fl", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-fl", hostile);
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    const asked = holdsAsked(grid.substations[0]?.station);
    for (let i = 0; i < 20; i++) {
      await hostile.client.call("StatusNotification", {
        connectorId: 1,
        errorCode: "NoError",
        status: "Available",
      });
      await drawing(hostile, 22_000);
    }
    // It stops for good: held for the window still, then lifted once, and the honest charger raised.
    await drawing(hostile, 0);
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
    expect(asked).toEqual([0]);
    expect(honest.profiles.at(-1)?.watts).toBe(22_000);
  });

  test("short transactions between its draws, or an operator's clearOverdraw, do not lift the hold", async () => {
    // A charger probe: each transaction it opened wiped the connector's judgement, its stray draw after the
    // stop waited a whole window to be counted again, and the hold came down meanwhile (44 kW on 30 for
    // most of 10 s); clearOverdraw did the same until it was caught again.
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    // A window well over the charger's pace below: a slow turn of a busy machine does not end it.
    await using ocpp = await startOcppGateway(grid, { OCPP_OVERDRAW_S: "2" });
    const honest = await ocpp.charger("cp-honest-cy", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-cy");
    const hostile = await ocpp.charger("cp-hostile-cy", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-cy", hostile);
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    const from = honest.profiles.length;
    const asked = holdsAsked(grid.substations[0]?.station);
    for (let n = 0; n < 4; n++) {
      const txId = Number(await hostile.startTransaction(1, `ev-hostile-cy-${n}`));
      for (let i = 0; i < 2; i++) {
        await drawing(hostile, 22_000, txId);
        await Bun.sleep(150); // the pace of a charger's readings, not a wait for something
      }
      await hostile.stopTransaction(1);
      for (let i = 0; i < 4; i++) {
        await drawing(hostile, 22_000, txId);
        await Bun.sleep(150);
      }
    }
    expect(await ocpp.admin.clearOverdraw.mutate({ chargePointId: "cp-hostile-cy" })).toMatchObject({
      cleared: true,
    });
    // Drawing on, it is caught again (a later event that must follow everything before it).
    await drawsUntilCaught(ocpp, "cp-hostile-cy", hostile, undefined, 1);
    expect(asked.filter((kw) => kw < 22)).toEqual([]);
    expect(acceptedSince(honest, from).filter((w) => w > 8000)).toEqual([]);
  });

  test("a restarted gateway keeps the hold it finds while the charger it caught draws on", async () => {
    using dir = tempDir("evgrid-stray-gw-");
    const env = { ...FAST, OCPP_OVERDRAW_S: "2", OCPP_DB_PATH: join(dir.path, "registry.sqlite") };
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    const first = await startOcppGateway(grid, env);
    const hostile = await first.charger("cp-hostile-gw", { maxKw: 22 });
    await drawsUntilCaught(first, "cp-hostile-gw", hostile);
    await eventually(() => expect(held(grid).heldDrawKw).toBe(22));
    first.gateway.grid.stop(); // kill -9: nothing more reaches the grid
    await first[Symbol.asyncDispose]();
    const asked = holdsAsked(grid.substations[0]?.station);
    await using second = await startOcppGateway(grid, env);
    const back = new SimulatedChargePoint({ ...hostile.opts, url: second.gateway.ocppUrl, reconnect: false });
    second.chargers.push(back);
    await back.client.connect();
    // Caught before (the registry's mark): counted at its first reading, no window again.
    await drawing(back, 22_000);
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const books = (second.gateway.gateway as any).pusher;
    expect(books.heldW("cp-hostile-gw", 1)).toBe(22_000);
    // Its first level seen (30 kW: 8 left beside the 22 the books count): the hold it found was kept.
    await eventually(() => expect(books.budgetW("substation-1")).toBe(30_000));
    expect(asked.filter((kw) => kw < 22)).toEqual([]);
    expect(held(grid).heldDrawKw).toBe(22);
  });

  test("moved to another substation while counted: held there, released at the first", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    for (const sub of grid.substations) sub?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const honest = await ocpp.charger("cp-honest-mv", { maxKw: 22, substationId: "substation-2" });
    await honest.startTransaction(1, "ev-honest-mv");
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
    const hostile = await ocpp.charger("cp-hostile-mv", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-mv", hostile);
    await eventually(() => expect(grid.substations[0]?.station.load().heldDrawKw).toBe(22));
    await ocpp.admin.registerChargePoint.mutate({
      chargePointId: "cp-hostile-mv",
      substationId: "substation-2",
      password: hostile.opts.password,
      maxKw: 22,
    });
    await hostile.close();
    const moved = new SimulatedChargePoint({ ...hostile.opts, reconnect: false });
    ocpp.chargers.push(moved);
    await moved.connect();
    await drawing(moved, 22_000);
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    const heldAt = () => grid.substations.map((sub) => sub?.station.load().heldDrawKw);
    await eventually(() => expect(heldAt()).toEqual([0, 22]));
  });

  test("another source's hold is not the gateway's: not given back to its books, nor sent again", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    grid.substations[0]?.station.setDrawHold("site-meter", 10);
    const asked = holdsAsked(grid.substations[0]?.station);
    await using ocpp = await startOcppGateway(grid, FAST);
    const a = await ocpp.charger("cp-a-os", { maxKw: 22 });
    await a.startTransaction(1, "ev-a-os");
    await eventually(() => expect(a.limit(1)).toBe(20_000));
    const b = await ocpp.charger("cp-b-os", { maxKw: 22 });
    await b.startTransaction(1, "ev-b-os");
    await eventually(() => expect([a.limit(1), b.limit(1)]).toEqual([10_000, 10_000]));
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    expect((ocpp.gateway.gateway as any).pusher.budgetW("substation-1")).toBe(20_000);
    expect(asked).toEqual([]);
  });

  test("a caught charger asked to stop, drawing on: held at its substation until it reports the end", async () => {
    // A charger probe: it accepted its 0 W and the stop and drew on; caught, it was counted in the gateway's
    // books but not at its substation, which gave a new car 22 kW the books never let out: it got nothing.
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const hostile = await ocpp.charger("cp-hostile-st", { maxKw: 22, behaviour: { stopWhenAsked: false } });
    const txId = Number(await hostile.startTransaction(1, "ev-hostile-st"));
    await eventually(() => expect(hostile.limit(1)).toBe(22_000));
    const sessionId = await ocpp.txSession("cp-hostile-st");
    await grid.operator.stopSession.mutate({ sessionId });
    await eventually(() => expect(hostile.limit(1)).toBe(0));
    await drawsUntilCaught(ocpp, "cp-hostile-st", hostile, txId);
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 22, effectiveCapacityKw: 8 }));
    const honest = await ocpp.charger("cp-honest-st", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-st");
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    // It reports the end at last: released (soon, not after a whole window), and the honest car raised.
    await hostile.client.call("StopTransaction", {
      transactionId: txId,
      meterStop: 1,
      timestamp: new Date().toISOString(),
    });
    await drawing(hostile, 0);
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
  });

  test("a restarted substation holds it again (a hold is not journaled)", async () => {
    using dir = tempDir("evgrid-stray-hold-");
    const journal = join(dir.path, "substation-1.sqlite");
    await using grid = await startGrid({
      capacitiesKw: [150],
      substationEnv: () => ({ SUBSTATION_DB_PATH: journal }),
    });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, FAST);
    const honest = await ocpp.charger("cp-honest-rh", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-rh");
    const hostile = await ocpp.charger("cp-hostile-rh", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-rh", hostile);
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    // Restarted in place (same port, same journal): its session and its limit come back, the hold does not,
    // until the gateway sees its first level there say 0 and sets it again. Meanwhile the gateway's books,
    // which count the draw, raise no limit into it.
    const from = honest.profiles.length;
    await grid.restartSubstation(0);
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 22, effectiveCapacityKw: 8 }), {
      timeoutMs: 15_000,
    });
    await eventually(() => expect(grid.substations[0]?.station.list("active", 10)[0]?.allocatedKw).toBe(8));
    expect(honest.limit(1)).toBe(8000);
    expect(acceptedSince(honest, from).filter((w) => w > 8000)).toEqual([]);
  });

  test("a hold the gateway does not count (left by a gateway that restarted) is lifted", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    // What a gateway that restarted after its stray charger stopped left behind.
    grid.substations[0]?.station.setDrawHold("ocpp-gateway", 22);
    await using ocpp = await startOcppGateway(grid, FAST);
    const honest = await ocpp.charger("cp-honest-gr", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-gr");
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 0, effectiveCapacityKw: 30 }));
    await eventually(() => expect(honest.limit(1)).toBe(22_000));
  });
});

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
import { eventually, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";
import { drawing, drawsUntilCaught, FAST } from "./stray-setup.ts";

setDefaultTimeout(30_000);

type Grid = Awaited<ReturnType<typeof startGrid>>;
const held = (grid: Grid) => {
  const load = grid.substations[0]?.station.load();
  return { heldDrawKw: load?.heldDrawKw, effectiveCapacityKw: load?.effectiveCapacityKw };
};

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
    const station = grid.substations[0]?.station;
    if (!station) throw new Error("no substation");
    station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, { ...FAST, OCPP_OVERDRAW_S: "1" });
    const honest = await ocpp.charger("cp-honest-fl", { maxKw: 22 });
    await honest.startTransaction(1, "ev-honest-fl");
    const hostile = await ocpp.charger("cp-hostile-fl", { maxKw: 22 });
    await drawsUntilCaught(ocpp, "cp-hostile-fl", hostile);
    await eventually(() => expect(honest.limit(1)).toBe(8000));
    // What the gateway asks of the substation from now on.
    const asked: number[] = [];
    const setDrawHold = station.setDrawHold.bind(station);
    station.setDrawHold = (source, kw) => {
      asked.push(kw);
      return setDrawHold(source, kw);
    };
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
    // until the gateway sees its first level there say 0 and sets it again.
    await grid.restartSubstation(0);
    await eventually(() => expect(held(grid)).toEqual({ heldDrawKw: 22, effectiveCapacityKw: 8 }), {
      timeoutMs: 15_000,
    });
    await eventually(() => expect(grid.substations[0]?.station.list("active", 10)[0]?.allocatedKw).toBe(8));
    expect(honest.limit(1)).toBe(8000);
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

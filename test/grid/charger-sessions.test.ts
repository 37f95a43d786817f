/**
 * What the OCPP gateway needs of the grid, over real links: a plugged-in vehicle's session found anywhere,
 * dispatch pinned to the charger's substation (waiting for that one only), stops with a reason, and each
 * substation's power streamed as levels.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { PowerEvent } from "@evgrid/contract";
import { closeLink, internalClient, subscriptionValues } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { eventually, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

/** The level an event carries; undefined for an end. */
const levelOf = (e: PowerEvent | undefined) => (e?.type === "level" ? e.levelKw : undefined);

describe("sessions for chargers", () => {
  test("a dispatched vehicle's session is found wherever it is; a vehicle without one is null", async () => {
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "plugged", durationS: 600 });
    const found = await grid.operator.findVehicleSession.query({ vehicleId: "plugged" });
    expect(found).toMatchObject({ sessionId: grant.sessionId, status: "active" });
    expect(await grid.operator.findVehicleSession.query({ vehicleId: "nobody" })).toBeNull();
    // Ended behind the balancer's back (at the substation): no longer found.
    const sub = grid.substations.find((s) => s.station.id === grant.substationId);
    sub?.station.stop(grant.sessionId);
    expect(await grid.operator.findVehicleSession.query({ vehicleId: "plugged" })).toBeNull();
  });

  test("pinned to its charger's substation: admitted there only, and when full it waits for that one", async () => {
    await using grid = await startGrid({ capacitiesKw: [11, 150] });
    const here = await grid.operator.dispatch.mutate({
      vehicleId: "walk-in-1",
      maxKw: 11,
      minKw: 11,
      durationS: 600,
      substationId: "substation-1",
    });
    expect(here.session.substationId).toBe("substation-1");
    // substation-1 is full; substation-2 has room but is not where the vehicle is.
    const waiting = grid.operator.dispatch.mutate(
      {
        vehicleId: "walk-in-2",
        maxKw: 11,
        minKw: 11,
        durationS: 600,
        substationId: "substation-1",
        waitS: 10,
      },
      { context: { timeoutMs: 15_000 } },
    );
    // Queued for substation-1, not admitted at substation-2 meanwhile.
    await eventually(() => expect(grid.balancer.dispatcher.waitingCount).toBe(1), { timeoutMs: 10_000 });
    expect(grid.substations[1]?.station.list("active", 10)).toEqual([]);
    await grid.operator.stopSession.mutate({ sessionId: here.session.sessionId, reason: "charger_offline" });
    const admitted = await waiting;
    expect(admitted.session.substationId).toBe("substation-1");
    const ended = await grid.operator.getSession.query({ sessionId: here.session.sessionId });
    expect(ended).toMatchObject({ status: "ended", endReason: "charger_offline" });
    // Without waiting, a full pinned substation is a refusal naming it, not a session elsewhere.
    const refused = await grid.operator.dispatch
      .mutate({ vehicleId: "walk-in-3", maxKw: 11, minKw: 11, durationS: 60, substationId: "substation-1" })
      .catch((e: unknown) => e);
    expect((refused as { data?: { reason?: string } }).data?.reason).toBe("GRID_FULL");
  });

  test("a substation streams its water level on every re-share and every end, over its link", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    const sub = grid.substations[0] as (typeof grid.substations)[number];
    const link = internalClient<SubstationRouter>(sub.url, {
      timeoutMs: 5000,
      token: grid.serviceToken,
      transport: "ws",
    });
    const ac = new AbortController();
    const events: PowerEvent[] = [];
    const reading = (async () => {
      for await (const e of subscriptionValues(link.watchPower, undefined, ac.signal)) events.push(e);
    })();
    const until = (check: () => boolean) =>
      eventually(() => expect({ seen: check(), events }).toMatchObject({ seen: true }), {
        timeoutMs: 10_000,
      });
    try {
      await until(() => events.length >= 1);
      expect(events[0]).toMatchObject({ type: "level", levelKw: null });
      const a = await grid.client.requestCharge.mutate({
        vehicleId: "a",
        maxKw: 22,
        minKw: 1,
        durationS: 60,
      });
      await grid.client.requestCharge.mutate({ vehicleId: "b", maxKw: 22, minKw: 1, durationS: 60 });
      await until(() => levelOf(events.at(-1)) === 11);
      await grid.operator.stopSession.mutate({ sessionId: a.sessionId });
      await until(() => events.some((e) => e.type === "ended" && e.sessionId === a.sessionId));
      await until(() => levelOf(events.at(-1)) === null);
    } finally {
      ac.abort();
      await reading;
      link[closeLink]();
    }
  });
});

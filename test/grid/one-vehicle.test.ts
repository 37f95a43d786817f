import { describe, expect, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually, startGrid } from "@evgrid/testing";

describe("one session per vehicle through one balancer", () => {
  test("20 requests for one vehicle at once, each with its own key, 4 substations: 1 session, the rest refused", async () => {
    // Before: each went to the substation with the most headroom as the balancer saw it while the others were
    // in flight, and each substation admitted one (4 sessions for one vehicle).
    await using grid = await startGrid({ capacitiesKw: [150, 150, 150, 150] });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        grid.client.requestCharge
          .mutate({ vehicleId: "ev-many", maxKw: 11, durationS: 600, idempotencyKey: `order-${i}` })
          .then(
            (g) => g.sessionId,
            (err: unknown) => errorDataOf(err)?.reason,
          ),
      ),
    );
    const sessions = new Set(answers.filter((a) => a?.includes(".")));
    expect(sessions.size).toBe(1);
    expect(answers.filter((a) => a === "VEHICLE_ALREADY_CHARGING")).toHaveLength(19);
    const active = grid.substations.flatMap((s) => s.station.list("active", 100));
    expect(active.map((s) => s.vehicleId)).toEqual(["ev-many"]);
  });

  test("a dispatch pinned to another substation than the one the vehicle charges at is refused, not a second session", async () => {
    // Before: a pinned dispatch (the OCPP gateway's, for a car at a charger there) went to the pinned
    // substation only, which knew nothing of the session elsewhere, and admitted it: two for one vehicle.
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const grant = await grid.client.requestCharge.mutate({
      vehicleId: "ev-pinned",
      maxKw: 11,
      durationS: 600,
    });
    const other = grant.substationId === "substation-1" ? "substation-2" : "substation-1";
    const pinnedThere = { vehicleId: "ev-pinned", maxKw: 11, durationS: 600, substationId: other };
    const refused = await grid.operator.dispatch.mutate(pinnedThere).catch((e: unknown) => e);
    expect(errorDataOf(refused)?.reason).toBe("VEHICLE_ALREADY_CHARGING");
    const active = () => grid.substations.flatMap((s) => s.station.list("active", 100));
    expect(active().map((s) => s.sessionId)).toEqual([grant.sessionId]);
    // Once that session has ended, the pinned dispatch is admitted where it is pinned.
    await grid.client.stopCharge.mutate({ sessionId: grant.sessionId, sessionSecret: grant.sessionSecret });
    const admitted = await grid.operator.dispatch.mutate(pinnedThere);
    expect(admitted.session.substationId).toBe(other);
    expect(active().map((s) => s.vehicleId)).toEqual(["ev-pinned"]);
  });

  test("a stop of the vehicle's ended session (a retry, an old one) keeps it from a second session elsewhere", async () => {
    // Before: every stop forgot the vehicle's home, even one that ended nothing, so the vehicle's next request
    // went where the most room was, not to the substation it charges at: two active sessions for one vehicle.
    await using grid = await startGrid({ capacitiesKw: [150, 150] });
    const old = await grid.client.requestCharge.mutate({ vehicleId: "ev-again", maxKw: 11, durationS: 600 });
    const stop = { sessionId: old.sessionId, sessionSecret: old.sessionSecret };
    await grid.client.stopCharge.mutate(stop);
    const other = old.substationId === "substation-1" ? "substation-2" : "substation-1";
    const now = await grid.operator.dispatch.mutate({
      vehicleId: "ev-again",
      maxKw: 11,
      durationS: 600,
      substationId: other,
    });
    expect(await grid.client.stopCharge.mutate(stop)).toMatchObject({ status: "ended" });
    const again = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-again", maxKw: 11, durationS: 600 })
      .catch((e: unknown) => e);
    expect(errorDataOf(again)?.reason).toBe("VEHICLE_ALREADY_CHARGING");
    const active = grid.substations.flatMap((s) => s.station.list("active", 100));
    expect(active.map((s) => s.sessionId)).toEqual([now.session.sessionId]);
  });

  test("an energy session whose share falls keeps its vehicle homed past its first projected end", async () => {
    // Before: the vehicle's home lasted its projected end (energy over its power then) plus the grace; more
    // cars at its substation lowered its share, it charged on past that, and the vehicle's next request went
    // where the most room was: a second session.
    await using grid = await startGrid({
      capacitiesKw: [22, 150],
      balancer: { VEHICLE_HOME_GRACE_MS: "100" },
    });
    const at1 = { maxKw: 22, minKw: 4.4, substationId: "substation-1" };
    const first = await grid.operator.dispatch.mutate({ ...at1, vehicleId: "ev-slower", energyKwh: 0.02 });
    const projectedEndMs = Date.parse(first.session.expectedEndAt as string); // 22 kW: 3.3 s
    for (const i of [1, 2, 3])
      await grid.operator.dispatch.mutate({ ...at1, vehicleId: `ev-crowd-${i}`, durationS: 600 });
    // Its share is now 5.5 kW: still charging once its first projection (and the grace) have passed.
    const s1 = grid.substations[0]?.station;
    await eventually(() => {
      expect(Date.now()).toBeGreaterThan(projectedEndMs + 300);
      expect(s1?.get(first.session.sessionId).status).toBe("active");
    });
    const again = await grid.client.requestCharge
      .mutate({ vehicleId: "ev-slower", maxKw: 11, durationS: 600 })
      .then(
        (g) => `admitted at ${g.substationId}`,
        (err: unknown) => errorDataOf(err)?.reason,
      );
    expect(again).toBe("VEHICLE_ALREADY_CHARGING");
  });
});

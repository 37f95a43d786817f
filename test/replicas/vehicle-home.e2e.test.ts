/**
 * A vehicle's home in the shared store moves with the vehicle. Found by `bun run chaos --seed 1829160526`:
 * a request found the vehicle's home at a substation whose session had ended and started elsewhere; the
 * store kept the old home, so the vehicle's next request went there and got a second session.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { eventually } from "@evgrid/testing";
import { fillingSubstation1, sharedRedis, startReplicas } from "./replica-grid.ts";

setDefaultTimeout(60_000);

const shared = sharedRedis();

const anywhere = (vehicleId: string) => ({ vehicleId, maxKw: 11, minKw: 11, durationS: 600 });

type Grid = Awaited<ReturnType<typeof startReplicas>>;

/** The vehicle's session at substation-1 ends there (its charger stopped); another then fills substation-1. */
async function endedThenFilled(grid: Grid, vehicleId: string, fillerId: string) {
  const substation1 = grid.substations[0]?.station;
  if (!substation1) throw new Error("no substation-1");
  const first = await grid.operator(0).dispatch.mutate(fillingSubstation1(vehicleId));
  substation1.stop(first.session.sessionId);
  const homeBefore = await shared.store.get(`evgrid:vehicle:${vehicleId}`);
  const filler = await grid.operator(0).dispatch.mutate(fillingSubstation1(fillerId));
  return { substation1, homeBefore, filler };
}

/** A request for the vehicle through one replica: where it started, or why not. */
const dispatchVia = (grid: Grid, replica: number, vehicleId: string) =>
  grid
    .operator(replica)
    .dispatch.mutate(anywhere(vehicleId))
    .then(
      (r) => r.session.substationId,
      (err: unknown) => errorDataOf(err)?.reason,
    );

describe("a vehicle's home in the shared store", () => {
  test("a vehicle that starts away from its old home (full there) is never booked at the old one again", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    // Its session at substation-1 ended there: the store still names substation-1.
    const { substation1, homeBefore, filler } = await endedThenFilled(grid, "ev-moving", "ev-filler");
    expect(homeBefore).toContain("substation-1");
    // substation-1 is full: the next request goes there first, is refused as full, starts at 2.
    const moved = await grid.operator(1).dispatch.mutate(anywhere("ev-moving"));
    expect(moved.session.substationId).toBe("substation-2");
    expect(await shared.store.get("evgrid:vehicle:ev-moving")).toContain("substation-2");
    // substation-1 frees up: a third request for the vehicle, through either replica, is refused.
    substation1.stop(filler.session.sessionId);
    for (const replica of [0, 1]) {
      const again = await dispatchVia(grid, replica, "ev-moving");
      expect({ replica, again }).toEqual({ replica, again: "VEHICLE_ALREADY_CHARGING" });
    }
    expect(grid.activeByVehicle().get("ev-moving")).toBe(1);
    // Refused where it charges, its home is kept as it was: until its 10-minute session's end and a grace,
    // not for a day (IDEMPOTENCY_TTL_H), which would send it there first long after that session ended.
    const homeMs = Number(await shared.store.send("PTTL", ["evgrid:vehicle:ev-moving"]));
    expect(homeMs).toBeGreaterThan(0);
    expect(homeMs).toBeLessThanOrEqual(600_000 + 60_000);
  });

  test("two requests for one vehicle at once, its old home full: one session, the other refused", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    await endedThenFilled(grid, "ev-twice", "ev-filler-2");
    const answers = await Promise.all([0, 1].map((replica) => dispatchVia(grid, replica, "ev-twice")));
    expect(answers.filter((a) => a === "substation-2")).toHaveLength(1);
    expect(answers.filter((a) => a === "VEHICLE_ALREADY_CHARGING")).toHaveLength(1);
    expect(grid.activeByVehicle().get("ev-twice")).toBe(1);
  });

  test("a vehicle whose old home is down when it asks again is not tied to that substation for a day", async () => {
    await using grid = await startReplicas(2, shared.redis.url, { capacityKw: 11 });
    const [first, second] = grid.substations;
    if (!first || !second) throw new Error("two substations");
    const old = await grid.operator(0).dispatch.mutate(fillingSubstation1("ev-stranded"));
    first.station.stop(old.session.sessionId);
    await first.stop();
    await eventually(
      async () => {
        const view = await grid.operator(1).listSubstations.query();
        expect(view.find((m) => m.substationId === "substation-1")?.healthy).toBe(false);
      },
      { timeoutMs: 15_000 },
    );
    // Its home is down: refused, nothing asked there. Before, the claim wrote that home for a day
    // (IDEMPOTENCY_TTL_H): every request of the vehicle went there, refused while it was down, each renewing it.
    const refused = await grid
      .operator(1)
      .dispatch.mutate({
        ...fillingSubstation1("ev-stranded"),
        substationId: undefined,
        idempotencyKey: "k-1",
      })
      .catch((err: unknown) => errorDataOf(err)?.reason);
    expect(refused).toBe("HOME_SUBSTATION_UNAVAILABLE");
    const homeMs = Number(await shared.store.send("PTTL", ["evgrid:vehicle:ev-stranded"]));
    expect(homeMs).toBeLessThanOrEqual(600_000 + 60_000);
  });
});

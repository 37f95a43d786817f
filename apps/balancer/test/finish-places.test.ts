import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { finishPlaces } from "../src/redis-claim.ts";

const ttl = { keyTtlMs: 86_400_000, vehicleGraceMs: 60_000 };
const session = (status: "active" | "ended") =>
  ({
    substationId: "substation-1",
    status,
    startedAt: new Date(0).toISOString(),
    expectedEndAt: new Date(600_000).toISOString(),
  }) as Session;

describe("what a finished dispatch writes", () => {
  test("a new session: key and vehicle where it is, the vehicle until a grace past its end", () => {
    expect(finishPlaces({ kind: "admitted", session: session("active"), replayed: false }, 0, ttl)).toEqual({
      keyAt: "substation-1",
      vehicleAt: "substation-1",
      vehicleMs: 660_000,
      keepHome: false,
    });
  });

  test("a balancer whose clock runs ahead of the substation's: a new session's vehicle is homed for all of it", () => {
    // Two minutes ahead: reckoned against its own clock, the home went a minute before the session ended,
    // and the vehicle's next request was admitted at another substation (a store-fault probe).
    const aheadMs = 120_000;
    const fresh = { kind: "admitted", session: session("active"), replayed: false } as const;
    expect(finishPlaces(fresh, aheadMs, ttl).vehicleMs).toBe(660_000);
    // A replayed one may have started hours ago: what is left of it, by this balancer's clock.
    const replayed = { kind: "admitted", session: session("active"), replayed: true } as const;
    expect(finishPlaces(replayed, 500_000, ttl).vehicleMs).toBe(160_000);
  });

  test("an energy session: homed until its energy could be delivered at its minimum, not its projected end", () => {
    // 11 kWh at 11 kW: projected to end in an hour; at its 4.4 kW minimum (more cars there) 2.5 hours. Homed
    // for the projection, the vehicle's request an hour and a minute in went elsewhere: a second session.
    const energy = {
      ...session("active"),
      durationS: null,
      energyKwh: 11,
      deliveredKwh: 0,
      minKw: 4.4,
      expectedEndAt: new Date(3_600_000).toISOString(),
    } as Session;
    const fresh = { kind: "admitted", session: energy, replayed: false } as const;
    expect(finishPlaces(fresh, 0, ttl).vehicleMs).toBe(9_000_000 + 60_000);
    // A departure sooner: it ends there.
    const departing = { ...energy, departAt: new Date(7_200_000).toISOString() } as Session;
    expect(finishPlaces({ ...fresh, session: departing }, 0, ttl).vehicleMs).toBe(7_200_000 + 60_000);
    // Replayed half-way: what is left of its energy, from now.
    const half = { ...energy, deliveredKwh: 5.5 } as Session;
    expect(finishPlaces({ ...fresh, session: half, replayed: true }, 1_000_000, ttl).vehicleMs).toBe(
      4_500_000 + 60_000,
    );
    // The extension is capped at the key's TTL (a day here), never the projection itself (a review: 100 kWh
    // projected at 33 h was homed for 24).
    const slow = { ...energy, minKw: 0.01 } as Session;
    expect(finishPlaces({ ...fresh, session: slow }, 0, ttl).vehicleMs).toBe(86_400_000);
    const long = { ...energy, energyKwh: 100, expectedEndAt: new Date(33 * 3_600_000).toISOString() };
    expect(finishPlaces({ ...fresh, session: long as Session }, 0, ttl).vehicleMs).toBe(
      33 * 3_600_000 + 60_000,
    );
  });

  test("a replayed session that has ended: the key keeps its place, the vehicle's claim is released", () => {
    // Before, the vehicle was written there for a day; its next request went there and started a second
    // session while it charged elsewhere.
    expect(finishPlaces({ kind: "admitted", session: session("ended") }, 0, ttl)).toMatchObject({
      keyAt: "substation-1",
      vehicleAt: "",
    });
  });

  test("refused where it charges, or never asked: the vehicle's old home there is given back as it was", () => {
    const charging = finishPlaces({ kind: "uncertain", at: "substation-1", charging: true }, 0, ttl);
    const notAsked = finishPlaces({ kind: "uncertain", at: "substation-1", asked: false }, 0, ttl);
    const timedOut = finishPlaces({ kind: "uncertain", at: "substation-1", asked: true }, 0, ttl);
    expect([charging.keepHome, notAsked.keepHome, timedOut.keepHome]).toEqual([true, true, false]);
    expect(timedOut).toMatchObject({
      keyAt: "substation-1",
      vehicleAt: "substation-1",
      vehicleMs: 86_400_000,
    });
  });
});

import { describe, expect, test } from "bun:test";
import { POLICIES, policyById, simulate } from "../src/engine.ts";
import { type Arrival, generateArrivals, parseScenario } from "../src/index.ts";
import { taperedMaxKw } from "../src/realism.ts";
import type { SessionRecord } from "../src/records.ts";

const car = (id: number, arriveMin: number, departMin: number, over: Partial<Arrival> = {}) => ({
  id,
  arriveMin,
  departMin,
  wantKwh: 20,
  minKw: 4.2,
  maxKw: 11,
  kind: "AC 11",
  priority: "standard" as const,
  ...over,
});

const records = (scenario: ReturnType<typeof parseScenario>, arrivals: Arrival[], id = "evgrid") => {
  const out: SessionRecord[] = [];
  simulate(scenario, arrivals, policyById(id) ?? (POLICIES[0] as never), { onSession: (r) => out.push(r) });
  return out.sort((a, b) => a.id - b.id);
};

const oneSite = (over: Record<string, unknown> = {}) =>
  parseScenario({
    name: "one site",
    substations: [{ id: "a", capacityKw: 100 }],
    arrivals: { perDay: 1 },
    maxWaitMin: 60,
    ...over,
  });

describe("battery taper (linear two-stage)", () => {
  test("full power up to fromSoc, then linear to zero at full", () => {
    const taper = { fromSoc: 0.8, batteryKwh: 50, stepMin: 5 };
    // 20 kWh asked fills a 50 kWh battery: it arrives at 60 %.
    expect(taperedMaxKw(taper, { maxKw: 11, wantKwh: 20 }, 0)).toBe(11);
    expect(taperedMaxKw(taper, { maxKw: 11, wantKwh: 20 }, 10)).toBe(11);
    expect(taperedMaxKw(taper, { maxKw: 11, wantKwh: 20 }, 15)).toBeCloseTo(5.5, 9);
    expect(taperedMaxKw(taper, { maxKw: 11, wantKwh: 20 }, 20)).toBe(0);
    expect(taperedMaxKw(undefined, { maxKw: 11, wantKwh: 20 }, 15)).toBe(11);
  });

  test("lowers the energy delivered on the same day, for every policy, and never exceeds the site", () => {
    const day = {
      name: "taper",
      seed: 5,
      substations: [{ id: "a", capacityKw: 150 }],
      arrivals: { perDay: 120, peaks: [{ at: "09:00", spreadH: 1, share: 0.8 }] },
      dwellH: { mean: 2, sd: 1, min: 0.5, max: 6 },
    };
    const plain = parseScenario(day);
    const tapered = parseScenario({ ...day, taper: { fromSoc: 0.8, batteryKwh: 60 } });
    const arrivals = generateArrivals(plain);
    for (const p of POLICIES) {
      const a = simulate(plain, arrivals, p);
      const b = simulate(tapered, arrivals, p);
      expect({ policy: p.id, lower: b.deliveredKwh < a.deliveredKwh }).toEqual({ policy: p.id, lower: true });
      if (p.controlled) expect(b.substations[0]?.minutesAboveCapacity).toBe(0);
    }
  });
});

describe("EVSEs per site", () => {
  test("a car that finds every EVSE busy leaves when the scenario says so", () => {
    const got = records(oneSite({ evsesPerSite: 1, whenEvsesBusy: "leave" }), [
      car(0, 480, 720),
      car(1, 540, 600),
    ]);
    expect(got.map((r) => r.outcome)).toEqual(["charged", "no-evse"]);
    expect(got[1]?.siteId).toBeNull();
  });

  test("or waits for one: a full car holds its EVSE until it leaves", () => {
    // Car 0 is full within minutes but stays plugged in until 09:30; car 1 starts then, 30 min after it came.
    const got = records(oneSite({ evsesPerSite: 1 }), [car(0, 480, 570, { wantKwh: 1 }), car(1, 540, 720)]);
    expect(got.map((r) => r.outcome)).toEqual(["charged", "charged"]);
    expect(got[1]?.waitedMin).toBeCloseTo(30, 9);
  });

  test("the original policies queue for an EVSE too", () => {
    const got = records(
      oneSite({ evsesPerSite: 1 }),
      [car(0, 480, 500), car(1, 490, 720)],
      "fewest-sessions",
    );
    expect(got[1]?.waitedMin).toBeCloseTo(10, 9);
  });
});

describe("stations from the data", () => {
  test("a car with a station charges at that station's site, whatever the choice would say", () => {
    const scenario = parseScenario({
      name: "two sites",
      substations: [
        { id: "small", capacityKw: 11 },
        { id: "big", capacityKw: 1000 },
      ],
      arrivals: { perDay: 1 },
    });
    // Stations are dealt to sites in order of first appearance: CA-1 to "small", CA-2 to "big".
    const arrivals = [
      { ...car(0, 480, 600), stationId: "CA-1" },
      { ...car(1, 490, 600), stationId: "CA-2" },
      { ...car(2, 500, 600), stationId: "CA-1" },
      car(3, 510, 600),
    ];
    const got = records(scenario, arrivals);
    expect(got.map((r) => [r.siteId, r.stationId])).toEqual([
      ["small", "CA-1"],
      ["big", "CA-2"],
      // CA-1's site has room for one minimum more (4.2 + 4.2 ≤ 11): admitted there, not at "big".
      ["small", "CA-1"],
      ["big", null],
    ]);
  });
});

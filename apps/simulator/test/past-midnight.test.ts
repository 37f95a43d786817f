/**
 * A run whose cars stay past midnight: its series and its charts go on to the last departure (as its totals
 * do), the hours after midnight labelled "+1d HH:MM", a night limit drawn on both sides of midnight.
 */
import { describe, expect, test } from "bun:test";
import { colorOf, powerChart, queueChart } from "../src/charts.ts";
import { type Arrival, buildReport, POLICIES, parseScenario, renderHtml, simulate } from "../src/index.ts";
import { overnightCar } from "./days.ts";

const evgrid = POLICIES.find((p) => p.id === "evgrid") as (typeof POLICIES)[number];

// One 20 kW site at half from 22:00 to 06:00; one car of 20 kW there from 21:00 to 07:00 the next morning.
const night = parseScenario({
  name: "overnight",
  substations: [{ id: "home", capacityKw: 20 }],
  arrivals: { perDay: 1 },
  operatorLimits: [{ from: "22:00", to: "06:00", share: 0.5 }],
  sampleMin: 30,
});
const car = overnightCar;

/** The chart's x-axis labels by their x, and the points of the path stroked in `color`. */
function drawn(svg: string, color: string) {
  const labels = new Map<string, number>();
  for (const [, x, text] of svg.matchAll(
    /<text[^>]*transform="translate\(([\d.]+) 268\)"[^>]*>([^<]+)<\/text>/g,
  ))
    labels.set(text as string, Number(x));
  const d = new RegExp(`<path d="(M[^"]+)" fill="none"[^>]*stroke="${color}"`).exec(svg)?.[1] ?? "";
  const points = [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map(([, x, y]) => [Number(x), Number(y)] as const);
  /** The line's height at a label (its last point there: a step's new level). */
  const yAt = (label: string) => {
    const x = labels.get(label) ?? Number.NaN;
    return points.findLast(([px]) => Math.abs(px - x) < 1)?.[1];
  };
  return { labels: [...labels.keys()], xOf: (label: string) => labels.get(label) ?? Number.NaN, points, yAt };
}

describe("a run past midnight", () => {
  const result = simulate(night, [car], evgrid);
  const site = result.substations[0] as (typeof result.substations)[number];

  test("its series reach the last departure: the car's power and the night limit after midnight", () => {
    const sampleAt = (h: number) => (h * 60) / night.sampleMin;
    expect((site.power.length - 1) * night.sampleMin).toBe(car.departMin);
    expect(result.queue).toHaveLength(site.power.length);
    // 10 kW under the limit until 06:00 the next morning, then 20 kW until it leaves at 07:00.
    expect([23, 24, 27, 29.5, 30, 30.5, 31].map((h) => site.power[sampleAt(h)])).toEqual([
      10, 10, 10, 10, 20, 20, 0,
    ]);
    expect([23, 24, 27, 29.5, 30, 31].map((h) => site.limit[sampleAt(h)])).toEqual([
      10,
      10,
      10,
      10,
      null,
      null,
    ]);
  });

  test("its chart draws the hours after midnight, labelled +1d, the night limit on both sides of midnight", () => {
    const chart = powerChart([result], 0, night.sampleMin);
    const limit = drawn(chart, "#6a3d9a");
    expect(limit.labels).toEqual([
      ...["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"],
      ...["+1d 00:00", "+1d 03:00", "+1d 06:00"],
    ]);
    const [limitY, capacityY] = [limit.yAt("03:00"), limit.yAt("12:00")];
    expect(limitY).toBeGreaterThan(capacityY as number);
    // The limit holds from 22:00 past midnight to 06:00 the next morning, then lifts, as on the first night.
    expect([limit.yAt("+1d 00:00"), limit.yAt("+1d 03:00"), limit.yAt("+1d 06:00")]).toEqual([
      limitY,
      limitY,
      capacityY,
    ]);
    // The car's line goes on to its departure at +1d 07:00, past the last label, at 20 kW after the limit.
    const power = drawn(chart, colorOf(0));
    expect(power.points.at(-1)?.[0]).toBeGreaterThan(power.xOf("+1d 06:00") + 10);
    expect(power.yAt("+1d 03:00")).toBe(limitY);
    expect(power.yAt("+1d 06:00")).toBe(capacityY);
    // The queue's chart has the same time axis.
    expect(drawn(queueChart([result], night.sampleMin), colorOf(0)).labels.slice(-3)).toEqual([
      "+1d 00:00",
      "+1d 03:00",
      "+1d 06:00",
    ]);
  });
});

describe("a run of many days", () => {
  // One car parked a year (as maxDwellH allows) on a site at 5-minute samples: at that step throughout its series
  // would hold 105,000 samples per site and policy (a 1 GB report.json for 50 sites).
  const year = parseScenario({
    name: "a year",
    substations: [{ id: "home", capacityKw: 20 }],
    arrivals: { perDay: 1 },
    operatorLimits: [{ from: "22:00", to: "06:00", share: 0.5 }],
    maxDwellH: 366 * 24,
  });
  const departMin = 365 * 24 * 60 + 7 * 60;
  const parked: Arrival = { ...car, arriveMin: 21 * 60, departMin, wantKwh: 1000 };
  const result = simulate(year, [parked], evgrid);
  const site = result.substations[0] as (typeof result.substations)[number];

  test("its series are sampled less often, to 2 days' worth, still to the last departure and at midnight", () => {
    expect(result.seriesStepMin).toBe(24 * 60);
    expect(site.power.length).toBeLessThanOrEqual((2 * 24 * 60) / year.sampleMin + 1);
    expect(result.queue).toHaveLength(site.power.length);
    expect((site.power.length - 1) * result.seriesStepMin).toBeGreaterThanOrEqual(departMin);
    // Sampled at midnight: the night limit (10 kW) in force at every sample.
    expect(new Set(site.limit)).toEqual(new Set([10]));
    const report = buildReport({ scenario: year, source: "test", results: [result] });
    expect(report.series.sampleMin).toBe(24 * 60);
    expect(report.policies[0]).not.toHaveProperty("seriesStepMin");
  });

  test("a run within 2 days keeps the scenario's sampleMin", () => {
    const overnight = simulate(year, [{ ...parked, departMin: 31 * 60 }], evgrid);
    expect(overnight.seriesStepMin).toBe(year.sampleMin);
    expect(simulate(year, [], evgrid).substations[0]?.power).toHaveLength((24 * 60) / year.sampleMin + 1);
  });

  test("its charts' axes are labelled by the day, sampled every day", () => {
    const labels = drawn(powerChart([result], 0, result.seriesStepMin), "#6a3d9a").labels;
    expect(labels.length).toBeLessThanOrEqual(13);
    expect(labels.every((l) => /(^|d )00:00$/.test(l))).toBe(true);
    expect(
      renderHtml(year, buildReport({ scenario: year, source: "test", results: [result] }), [result]),
    ).toContain("sampled every 1440 minutes");
  });
});

/**
 * A policy's aggregates over the day, summed as each visit is settled (the per-session records go out through
 * `onSession`; nothing here keeps one per vehicle but the wait times the report draws as a CDF).
 */
import type { Policy } from "./policies.ts";
import type { SessionRecord } from "./records.ts";
import type { Site } from "./site.ts";

export interface PolicyResult {
  policy: Policy;
  wantedKwh: number;
  deliveredKwh: number;
  unmetPct: number;
  vehicles: number;
  /** Admitted at least once. */
  admitted: number;
  /** Never admitted (outcome "refused"). */
  refused: number;
  /** Left because every EVSE was busy (outcome "no-evse"). */
  noEvse: number;
  waited: number;
  waitP50Min: number;
  waitP95Min: number;
  /** Sorted waiting times before a first admission (0 for those admitted at once), for the CDF. */
  waits: number[];
  jainFairness: number;
  /** Energy the operator's limit held back (what the site would have handed out without it), kWh. */
  curtailedKwh: number;
  curtailedSessions: number;
  /** Energy drawn above capacity (excess power × time): breakers trip; it is on paper only. */
  overCapacityKwh: number;
  /** Energy delivered while its site was within both its capacity and its operator limit. */
  withinLimitsKwh: number;
  byClass: Record<string, { vehicles: number; wantedKwh: number; deliveredKwh: number }>;
  substations: {
    id: string;
    capacityKw: number;
    peakUtilization: number;
    minutesAboveCapacity: number;
    minutesAboveLimit: number;
    /** Sampled every `seriesStepMin` from 00:00 to the last departure (past midnight when a car stays). */
    power: number[];
    /** The limit in force at each sample, kW (null: none). */
    limit: (number | null)[];
  }[];
  /** Vehicles waiting at each sample, as `power`. */
  queue: number[];
  /** Minutes between the samples: the scenario's `sampleMin`, longer for a run of more than 2 days. */
  seriesStepMin: number;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Sums settled visits; `result` closes the books. */
export class Tally {
  private wanted = 0;
  private delivered = 0;
  private sumRatio = 0;
  private sumRatio2 = 0;
  private vehicles = 0;
  private admitted = 0;
  private refused = 0;
  private noEvse = 0;
  private readonly waits: number[] = [];
  private readonly waitedTimes: number[] = [];
  private readonly byClass: PolicyResult["byClass"] = {};
  curtailedSessions = 0;

  add(r: SessionRecord, priority: string, firstWaitMin: number | null): void {
    this.vehicles += 1;
    this.wanted += r.askedKwh;
    this.delivered += r.deliveredKwh;
    const ratio = r.askedKwh > 0 ? r.deliveredKwh / r.askedKwh : 1;
    this.sumRatio += ratio;
    this.sumRatio2 += ratio * ratio;
    const c = this.byClass[priority] ?? { vehicles: 0, wantedKwh: 0, deliveredKwh: 0 };
    this.byClass[priority] = c;
    c.vehicles += 1;
    c.wantedKwh += r.askedKwh;
    c.deliveredKwh += r.deliveredKwh;
    if (r.outcome === "refused") this.refused += 1;
    if (r.outcome === "no-evse") this.noEvse += 1;
    if (firstWaitMin !== null) {
      this.admitted += 1;
      this.waits.push(firstWaitMin);
    }
    if (r.waitedMin > 0) this.waitedTimes.push(r.waitedMin);
  }

  result(policy: Policy, sites: readonly Site[], queue: number[], seriesStepMin: number): PolicyResult {
    const byNumber = (a: number, b: number) => a - b;
    this.waits.sort(byNumber);
    this.waitedTimes.sort(byNumber);
    const sum = (f: (s: Site) => number) => sites.reduce((s, x) => s + f(x), 0);
    // byClass in a fixed order: the same seed gives byte-identical JSON whatever order visits settled in.
    const byClass = Object.fromEntries(Object.entries(this.byClass).sort(([a], [b]) => a.localeCompare(b)));
    return {
      policy,
      wantedKwh: this.wanted,
      deliveredKwh: this.delivered,
      unmetPct: this.wanted === 0 ? 0 : (100 * (this.wanted - this.delivered)) / this.wanted,
      vehicles: this.vehicles,
      admitted: this.admitted,
      refused: this.refused,
      noEvse: this.noEvse,
      waited: this.waitedTimes.length,
      waitP50Min: percentile(this.waitedTimes, 0.5),
      waitP95Min: percentile(this.waitedTimes, 0.95),
      waits: this.waits,
      jainFairness:
        this.vehicles === 0 ? 1 : (this.sumRatio * this.sumRatio) / (this.vehicles * this.sumRatio2 || 1),
      curtailedKwh: sum((s) => s.curtailedKwh),
      curtailedSessions: this.curtailedSessions,
      overCapacityKwh: sum((s) => s.overCapacityKwh),
      withinLimitsKwh: sum((s) => s.withinLimitsKwh),
      byClass,
      substations: sites.map((s) => ({
        id: s.id,
        capacityKw: s.capacityKw,
        peakUtilization: s.peakUtilization,
        minutesAboveCapacity: s.minutesAboveCapacity,
        minutesAboveLimit: s.minutesAboveLimit,
        power: s.powerSeries,
        limit: s.limitSeries,
      })),
      queue,
      seriesStepMin,
    };
  }
}

import type { PriorityClass } from "@evgrid/policy";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { Scenario } from "./scenario.ts";

/** One vehicle of the day: when it comes and goes, what it wants, what it can take. */
export interface Arrival {
  id: number;
  /** Minutes since the day's midnight. */
  arriveMin: number;
  departMin: number;
  wantKwh: number;
  minKw: number;
  maxKw: number;
  kind: string;
  priority: PriorityClass;
  /** The CSV's `stationID` (the EVSE it used), when the data has one. */
  stationId?: string;
  /** The CSV's `sessionID`, when the data has one: sessions.csv carries it, to join back to the input. */
  sessionId?: string;
}

/**
 * xoroshiro128+'s state from a seed, as its authors advise: two outputs of splitmix64. (pure-rand's own
 * seeding puts a small seed's bits straight into the state: every positive seed's first draw was ~1.0 and
 * every negative one's ~0, which biased the day's arrival count, and seeds past 32 bits collided.)
 */
function stateOf(seed: number): [number, number, number, number] {
  let x = BigInt.asUintN(64, BigInt(seed));
  const words: number[] = [];
  for (let i = 0; i < 2; i++) {
    x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
    let z = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    words.push(Number(z >> 32n) | 0, Number(z & 0xffffffffn) | 0);
  }
  return words as [number, number, number, number];
}

/** A seeded source of numbers: the same seed, the same day. */
export class Random {
  private readonly rng;
  constructor(seed: number) {
    this.rng = xoroshiro128plusFromState(stateOf(seed));
  }
  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Normal with mean and sd, redrawn until inside [min, max] (clamped after 20 tries). */
  truncated(r: { mean: number; sd: number; min: number; max: number }): number {
    for (let i = 0; i < 20; i++) {
      const x = r.mean + r.sd * this.normal();
      if (x >= r.min && x <= r.max) return x;
    }
    return Math.min(r.max, Math.max(r.min, r.mean));
  }
  /** Poisson-distributed count (normal approximation above 1,000, Knuth's method below). */
  poisson(mean: number): number {
    if (mean > 1000) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
  pick<T extends { share: number }>(items: readonly T[]): T {
    const total = items.reduce((s, x) => s + x.share, 0);
    let r = this.next() * total;
    for (const x of items) {
      r -= x.share;
      if (r < 0) return x;
    }
    return items.at(-1) as T;
  }
}

const DAY_MIN = 24 * 60;

/** The day's order: by arrival time, then by id. */
export const byArrival = (x: Arrival, y: Arrival) => x.arriveMin - y.arriveMin || x.id - y.id;

/**
 * Arrivals of a non-homogeneous Poisson process: the count is Poisson(perDay), and given the count, each
 * arrival time is drawn from the day's profile (its peaks, the rest spread evenly), which is how such a
 * process is sampled exactly.
 */
export function generateArrivals(s: Scenario): Arrival[] {
  const process = s.arrivals;
  if (!process) throw new Error("no arrival process");
  const random = new Random(s.seed);
  const count = random.poisson(process.perDay);
  const peaks = process.peaks.map((p) => ({ ...p, share: p.share }));
  const flat = 1 - peaks.reduce((sum, p) => sum + p.share, 0);
  const parts = [...peaks.map((p) => ({ share: p.share, peak: p })), { share: flat, peak: null }].filter(
    (p) => p.share > 0,
  );
  const out: Arrival[] = [];
  for (let i = 0; i < count; i++) {
    const part = random.pick(parts);
    const at = part.peak
      ? (((part.peak.at + part.peak.spreadH * 60 * random.normal()) % DAY_MIN) + DAY_MIN) % DAY_MIN
      : random.next() * DAY_MIN;
    out.push(
      vehicleAt(s, random, i, at, at + random.truncated(s.dwellH) * 60, random.truncated(s.energyKwh)),
    );
  }
  return out.sort(byArrival);
}

/** A vehicle of the mix (drawn) arriving and leaving at the given times, wanting `wantKwh`. */
export function vehicleAt(
  s: Scenario,
  random: Random,
  id: number,
  arriveMin: number,
  departMin: number,
  wantKwh: number,
): Arrival {
  const v = random.pick(s.vehicles);
  const r = random.next();
  const priority: PriorityClass =
    r < s.priorities.emergency
      ? "emergency"
      : r < s.priorities.emergency + s.priorities.fleet
        ? "fleet"
        : "standard";
  return { id, arriveMin, departMin, wantKwh, minKw: v.minKw, maxKw: v.maxKw, kind: v.name, priority };
}

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PriorityClass } from "@evgrid/policy";
import { parse } from "csv-parse/sync";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { z } from "zod";
import { type Scenario, ScenarioError } from "./scenario.ts";

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
}

/** A seeded source of numbers: the same seed, the same day. */
export class Random {
  private readonly rng;
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
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
  return out.sort((a, b) => a.arriveMin - b.arriveMin || a.id - b.id);
}

function vehicleAt(
  s: Scenario,
  random: Random,
  id: number,
  arriveMin: number,
  departMin: number,
  wantKwh: number,
) {
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

const acnRow = z.object({
  connectionTime: z.string().refine((t) => !Number.isNaN(Date.parse(t)), "connectionTime is not a date"),
  disconnectTime: z.string().refine((t) => !Number.isNaN(Date.parse(t)), "disconnectTime is not a date"),
  kWhDelivered: z.coerce
    .number({ error: "kWhDelivered is not a number" })
    .positive("kWhDelivered must be positive"),
});

/**
 * Real sessions from a CSV in ACN-Data's layout (`connectionTime`, `disconnectTime`, `kWhDelivered`; other
 * columns are ignored). Times are placed on one day by their time of day relative to the first session's
 * midnight; the energy they received is what they want. The vehicle kind (power) is drawn from the mix.
 * A bad row is an error naming its line.
 */
export function readSessionsCsv(s: Scenario, dir: string): Arrival[] {
  const path = resolve(dir, s.sessionsCsv as string);
  let records: { record: Record<string, string>; line: number }[];
  try {
    const rows = parse(readFileSync(path, "utf8"), {
      columns: true,
      skip_empty_lines: true,
      info: true,
      trim: true,
    }) as unknown as { record: Record<string, string>; info: { lines: number } }[];
    records = rows.map((r) => ({ record: r.record, line: r.info.lines }));
  } catch (err) {
    throw new ScenarioError(`${path}: ${(err as Error).message}`);
  }
  const random = new Random(s.seed);
  const rows = records.map(({ record, line }) => {
    const parsed = acnRow.safeParse(record);
    if (!parsed.success) {
      throw new ScenarioError(
        `${path} line ${line}: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
      );
    }
    const start = Date.parse(parsed.data.connectionTime);
    const end = Date.parse(parsed.data.disconnectTime);
    if (end <= start)
      throw new ScenarioError(`${path} line ${line}: disconnectTime must be after connectionTime`);
    return { start, end, kwh: parsed.data.kWhDelivered };
  });
  if (rows.length === 0) throw new ScenarioError(`${path}: no sessions`);
  const first = Math.min(...rows.map((r) => r.start));
  const midnight = first - (first % 86_400_000);
  return rows
    .map((r, i) => {
      const arriveMin = ((((r.start - midnight) / 60_000) % DAY_MIN) + DAY_MIN) % DAY_MIN;
      return vehicleAt(s, random, i, arriveMin, arriveMin + (r.end - r.start) / 60_000, r.kwh);
    })
    .sort((a, b) => a.arriveMin - b.arriveMin || a.id - b.id);
}

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { withinTheDay } from "./limits.ts";
import { realismFields } from "./realism.ts";

/**
 * "HH:MM" as minutes since midnight: a moment of the day up to 23:59, or, for the end of a span such as a
 * limit's `to`, up to 24:00, the end of the day (a limit to midnight had to stop at 23:59 before).
 */
const clockTo = (last: "23:59" | "24:00") => {
  const format = last === "24:00" ? /^(?:([01]\d|2[0-3]):[0-5]\d|24:00)$/ : /^([01]\d|2[0-3]):[0-5]\d$/;
  const error = (iss: { input?: unknown }) =>
    `must be a time of day, HH:MM from 00:00 to ${last}${last === "24:00" ? " (the end of the day)" : ""}: got ${JSON.stringify(iss.input)}`;
  return z
    .string({ error })
    .regex(format, { error })
    .transform((s) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3)));
};
const clock = clockTo("23:59");

const range = (what: string, min: number, max: number) =>
  z
    .object({
      mean: z.number().positive(`${what} mean must be positive`),
      sd: z.number().nonnegative(),
      min: z.number().nonnegative().default(min),
      max: z.number().positive().default(max),
    })
    .refine((r) => r.min <= r.max, { message: "min must not exceed max", path: ["min"] });

const peak = z.object({
  /** Centre of the peak. */
  at: clock,
  /** Its spread (standard deviation), hours. */
  spreadH: z.number().positive().max(12),
  /** Share of the day's arrivals in this peak. */
  share: z.number().min(0).max(1),
});

/** The shipped day (`bun run simulate` without `--scenario`, and the benches' base). */
export const SHIPPED_SCENARIO = resolve(import.meta.dir, "../scenarios/workplace-and-home.yaml");

/** A site's capacity at most, kW (a capacity sweep is held to it too). */
export const MAX_CAPACITY_KW = 1_000_000;
/** A vehicle's power at most, kW (a sessions CSV's maxKw column too). */
export const MAX_VEHICLE_KW = 350;

/**
 * A day to replay. Every field is checked with a message naming it; `bun run simulate --help` prints this
 * format. Times are local clock times of the simulated day.
 */
export const scenarioSchema = z
  .strictObject({
    name: z.string().min(1).max(200),
    seed: z.number().int().default(1),
    substations: z
      .array(
        z.strictObject({
          id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "substation id: a-z, 0-9 and -"),
          capacityKw: z.number().positive().max(MAX_CAPACITY_KW),
        }),
      )
      .min(1, "give at least one substation")
      .max(1000),
    /**
     * Operator (demand-response) limits: a share of each listed substation's capacity (all if none listed),
     * from `from` to `to` every day the run covers (cars parked past midnight are under the next day's). One
     * that crosses midnight (22:00 to 06:00) is read as two, 22:00-24:00 and 00:00-06:00 (limits.ts, the rule
     * the engine and the optimum read a hand-built scenario's limits by too): every limit of a parsed scenario
     * has from < to.
     */
    operatorLimits: z
      .array(
        z.strictObject({
          from: clock,
          to: clockTo("24:00"),
          share: z.number().min(0).max(1),
          substations: z.array(z.string()).optional(),
        }),
      )
      .default([]),
    /** A Poisson arrival process with a daily profile (or `sessionsCsv` instead). */
    arrivals: z
      .strictObject({
        /** Expected arrivals in the day (the count is drawn from a Poisson distribution with this mean). */
        perDay: z.number().positive().max(1_000_000),
        /** Workplace morning peak, evening home peak, ...; the rest arrive evenly over the day. */
        peaks: z.array(peak).default([]),
      })
      .optional(),
    /** Real sessions instead: a CSV in ACN-Data's layout (connectionTime, disconnectTime, kWhDelivered). */
    sessionsCsv: z.string().min(1).optional(),
    /**
     * A larger CSV is refused before reading: 2 GB holds 1,000,000 ACN rows with their `userInputs` (about 1 KB
     * each), the issue's largest replay, and reads in well under a minute; beyond that it is a mistake or an attack.
     */
    maxCsvMb: z.number().positive().max(1_000_000).default(2048),
    /**
     * A CSV session parked longer is bad data (7 days, as the API's bound on `departAt`); the generated
     * arrivals' `dwellH.max` is held to it too.
     */
    maxDwellH: z
      .number()
      .positive()
      .max(366 * 24)
      .default(7 * 24),
    /** The vehicle mix: each kind's share of arrivals, its maximum and minimum power. */
    vehicles: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          share: z.number().positive(),
          maxKw: z.number().min(1).max(MAX_VEHICLE_KW),
          minKw: z.number().min(1).max(MAX_VEHICLE_KW),
        }),
      )
      .min(1)
      .default([
        { name: "AC 7.4 kW", share: 0.45, maxKw: 7.4, minKw: 1.4 },
        { name: "AC 11 kW", share: 0.35, maxKw: 11, minKw: 4.2 },
        { name: "AC 22 kW", share: 0.12, maxKw: 22, minKw: 4.2 },
        { name: "DC 50-150 kW", share: 0.08, maxKw: 100, minKw: 20 },
      ]),
    /** Energy each vehicle wants (kWh) and how long it stays (hours): truncated normal distributions. */
    energyKwh: range("energyKwh", 1, 150).default({ mean: 18, sd: 10, min: 2, max: 80 }),
    dwellH: range("dwellH", 0.25, 24).default({ mean: 4, sd: 3, min: 0.5, max: 12 }),
    /** Share of arrivals in each priority class above standard (the rest are standard). */
    priorities: z
      .strictObject({
        fleet: z.number().min(0).max(1).default(0),
        emergency: z.number().min(0).max(1).default(0),
      })
      .default({ fleet: 0, emergency: 0 }),
    /** How long a vehicle refused for lack of power waits for some (policies that queue), in minutes. */
    maxWaitMin: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(30),
    /** Sampling step of the charts, minutes. */
    sampleMin: z.number().min(1).max(60).default(5),
    ...realismFields,
  })
  .superRefine((s, ctx) => {
    if (!s.arrivals === !s.sessionsCsv) {
      ctx.addIssue({ code: "custom", path: ["arrivals"], message: "give either arrivals or sessionsCsv" });
    }
    for (const [i, v] of s.vehicles.entries()) {
      if (v.minKw > v.maxKw)
        ctx.addIssue({
          code: "custom",
          path: ["vehicles", i, "minKw"],
          message: "minKw must not exceed maxKw",
        });
    }
    // Generated cars park no longer than a CSV's may (a dwell of 1e9 h was a day of 114,000 years).
    if (s.arrivals && s.dwellH.max > s.maxDwellH)
      ctx.addIssue({
        code: "custom",
        path: ["dwellH", "max"],
        message: `at most maxDwellH (${s.maxDwellH} h), as for a CSV session: got ${s.dwellH.max}`,
      });
    const peakShare = (s.arrivals?.peaks ?? []).reduce((sum, p) => sum + p.share, 0);
    if (peakShare > 1 + 1e-9)
      ctx.addIssue({
        code: "custom",
        path: ["arrivals", "peaks"],
        message: "peak shares add up to more than 1",
      });
    if (s.priorities.fleet + s.priorities.emergency > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["priorities"],
        message: "priority shares add up to more than 1",
      });
    }
    const ids = new Set(s.substations.map((x) => x.id));
    if (ids.size !== s.substations.length)
      ctx.addIssue({ code: "custom", path: ["substations"], message: "substation ids must be unique" });
    for (const [i, l] of s.operatorLimits.entries()) {
      if (l.to === l.from)
        ctx.addIssue({
          code: "custom",
          path: ["operatorLimits", i, "to"],
          message: 'must not equal from (all day is from "00:00" to "24:00")',
        });
      for (const id of l.substations ?? []) {
        if (!ids.has(id))
          ctx.addIssue({
            code: "custom",
            path: ["operatorLimits", i, "substations"],
            message: `no substation ${id}`,
          });
      }
    }
  })
  // The limits as every reader takes them (limits.ts): a `Scenario` built by hand may hold one across midnight.
  .transform((s) => ({ ...s, operatorLimits: s.operatorLimits.flatMap((l) => withinTheDay(l)) }));

export type Scenario = z.output<typeof scenarioSchema>;

export class ScenarioError extends Error {}

/** Reads a scenario (JSON or YAML), every problem reported with the field it is about. */
export function loadScenario(path: string): { scenario: Scenario; dir: string } {
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ScenarioError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    raw = /\.ya?ml$/i.test(path) ? Bun.YAML.parse(text) : JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(
      `${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${(err as Error).message}`,
    );
  }
  return { scenario: parseScenario(raw, path), dir: dirname(resolve(path)) };
}

export function parseScenario(raw: unknown, source = "scenario"): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
  // One problem, one line (a terminal or a log shows it whole); several, one line each.
  if (lines.length === 1) throw new ScenarioError(`${source} is not a valid scenario: ${lines[0]}`);
  throw new ScenarioError(`${source} is not a valid scenario:\n${lines.map((l) => `  ${l}`).join("\n")}`);
}

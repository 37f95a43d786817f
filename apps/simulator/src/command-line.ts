/**
 * `bun run simulate`'s flags: read and checked here, so that a wrong one is exit 2 naming it (kit's
 * `parseCommandLine`), before any day is replayed.
 */
import { z } from "zod";
import { POLICIES, type Policy, policyById } from "./engine.ts";
import { DEFAULT_OPTIMUM_MAX_SESSIONS } from "./optimum-gate.ts";
import { SHIPPED_SCENARIO } from "./scenario.ts";
import { DEFAULT_SWEEP_MAX_POINTS, MAX_SWEEP_POINTS, parseSweep } from "./sweep.ts";

const policyList = () => POLICIES.map((p, i) => `  ${i + 1}. ${p.id.padEnd(20)} ${p.label}`).join("\n");

export const HELP = `Usage: bun run simulate [--scenario <file>] [--out <dir>] [--policy a,b] [--sweep capacity=A:B:STEP] [--json]

Replays a day of charging in virtual time (seconds, not a day) through the same admission, fair-sharing,
choice, curtailment and wait-queue code the apps run, under each policy on the same arrivals:
${policyList()}
Writes to <out>: report.html (self-contained: open it from disk), report.json (the same seed gives the same
bytes), sessions.csv (one line per vehicle and policy), timing.json (how long each part took) and
substation-power.svg (the first substation's chart).

Options:
  --scenario <file>         JSON or YAML scenario   (default: apps/simulator/scenarios/workplace-and-home.yaml)
  --out <dir>               where the report goes   (default: simulation/); made and checked before the
                            sessions are read, refused if a file of the run would be the scenario or its CSV
  --policy <a,b>            run only these policies, by id (default: all)
  --sweep capacity=A:B:STEP every chosen policy again with each site at A, A+STEP, ... B kW (B must be A plus
                            a whole number of STEPs, A and STEP at least 0.001 kW); a chart of energy delivered against capacity, and its
                            numbers in report.json
  --sweep-max-points <n>    refuse a sweep with more points than this (default: ${DEFAULT_SWEEP_MAX_POINTS}; each point is a day
                            per policy; at most ${MAX_SWEEP_POINTS})
  --optimum-max-sessions <n> solve the offline optimum only up to this many sessions (default:
                            ${DEFAULT_OPTIMUM_MAX_SESSIONS}; 0 skips it); past it the report says "not computed" and why
  --json                    print the report's JSON instead of the table
  -h, --help                this help
Each flag at most once: a second --policy or --sweep is refused, not taken instead of the first.

Scenario format (every field checked; an error names the field):
  name: text                         seed: integer (same seed, same day)
  substations: [{ id: substation-1, capacityKw: 150 }, ...]
  operatorLimits: [{ from: "17:00", to: "19:00", share: 0.6, substations: [ids] (default all) }]
                                     times HH:MM; to may be "24:00", the end of the day, or before
                                     from: across midnight ("22:00" to "06:00": the night); each limit
                                     holds every day the run covers (a car parked past midnight is
                                     under the next day's)
  arrivals:                          a Poisson process over the day...
    perDay: 10000                    expected arrivals
    peaks: [{ at: "08:30", spreadH: 1, share: 0.35 }, { at: "18:30", spreadH: 1.5, share: 0.4 }]
                                     (the rest arrive evenly over the day)
  sessionsCsv: sessions.csv          ...or real sessions, ACN-Data layout: connectionTime, disconnectTime,
                                     kWhDelivered (other columns ignored; path relative to the scenario)
                                     optional: stationID (overlaps refused), maxKw or maxPowerKw (kW;
                                     an empty cell: drawn from the mix), sessionID (sessions.csv's
                                     session_id, to join back to this file; each id once)
                                     times: ISO 8601 (2026-03-10T07:00:00Z; UTC if no zone) or RFC 1123
                                     (Tue, 10 Mar 2026 07:00:00 GMT)
  maxCsvMb: 2048                     a larger sessionsCsv is refused before it is read
  maxDwellH: 168                     a CSV session parked longer is refused (its line named); dwellH.max
                                     may not exceed it either
  vehicles: [{ name, share, maxKw, minKw }]   the mix (default: AC 7.4 / 11 / 22 kW, DC 100 kW)
  energyKwh: { mean, sd, min, max }  energy wanted        dwellH: { mean, sd, min, max }  time parked
  priorities: { fleet: 0.1, emergency: 0.01 }   shares of arrivals above standard
  maxWaitMin: 30                     how long a refused vehicle waits for power (admitting policies)
  taper: { fromSoc: 0.8, batteryKwh: 60, stepMin: 5 }   battery taper, linear two-stage (default: none)
  evsesPerSite: 20                   charging points per site (default: as many as cars)
  whenEvsesBusy: wait | leave        a car that finds every EVSE busy           (default: wait)
  reshareGapMin: 1                   least time between re-shares that only time triggers (deadline policies)
  sampleMin: 5                       chart resolution`;

/** The policies a `--policy a,b` names, in the order given; or which id is unknown and what is valid. */
export function selectPolicies(text: string | undefined): Policy[] | { error: string } {
  if (text === undefined) return [...POLICIES];
  const valid = `valid: ${POLICIES.map((p) => p.id).join(", ")}`;
  const ids = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (ids.length === 0) return { error: `name at least one policy; ${valid}` };
  const unknown = ids.filter((id) => !policyById(id));
  if (unknown.length > 0)
    return { error: `unknown policy ${unknown.map((u) => JSON.stringify(u)).join(", ")}; ${valid}` };
  return [...new Set(ids)].map((id) => policyById(id) as Policy);
}

// Every value flag is read as a list, so that one given twice is refused rather than the last one taken
// silently (a second --policy or --sweep is more likely a mistake than a change of mind).
export const FLAGS = {
  scenario: { type: "string", multiple: true },
  out: { type: "string", multiple: true },
  policy: { type: "string", multiple: true },
  sweep: { type: "string", multiple: true },
  "sweep-max-points": { type: "string", multiple: true },
  "optimum-max-sessions": { type: "string", multiple: true },
  json: { type: "boolean" },
} as const;

/** A value flag given at most once: its value. */
const once = z
  .array(z.string())
  .max(1, "given more than once: give it once")
  .transform((values) => values[0] as string);

/** A whole-number flag given once, at least `min`; not empty (`z.coerce` would take "" for 0). */
const integerOnce = (min: number) =>
  once.transform((text, ctx) => {
    const n = text.trim() === "" ? Number.NaN : Number(text);
    if (Number.isInteger(n) && n >= min) return n;
    const empty = text.trim() === "" ? ", not empty" : "";
    ctx.addIssue({
      code: "custom",
      message: `must be an integer >= ${min}${empty} (got ${JSON.stringify(text)})`,
    });
    return z.NEVER;
  });

export const flagSchema = z
  .object({
    scenario: once.pipe(z.string().min(1)).default(SHIPPED_SCENARIO),
    out: once.pipe(z.string().min(1)).default("simulation"),
    policy: once.optional(),
    sweep: once.optional(),
    "sweep-max-points": integerOnce(1)
      .refine((n) => n <= MAX_SWEEP_POINTS, `must be at most ${MAX_SWEEP_POINTS}`)
      .default(DEFAULT_SWEEP_MAX_POINTS),
    "optimum-max-sessions": integerOnce(0).default(DEFAULT_OPTIMUM_MAX_SESSIONS),
    json: z.boolean().default(false),
  })
  .transform((f, ctx) => {
    const policies = selectPolicies(f.policy);
    if ("error" in policies) ctx.addIssue({ code: "custom", path: ["policy"], message: policies.error });
    const sweep = f.sweep === undefined ? undefined : parseSweep(f.sweep, f["sweep-max-points"]);
    if (sweep && "error" in sweep) ctx.addIssue({ code: "custom", path: ["sweep"], message: sweep.error });
    return {
      scenario: f.scenario,
      out: f.out,
      json: f.json,
      optimumMaxSessions: f["optimum-max-sessions"],
      policies: Array.isArray(policies) ? policies : [],
      sweep: sweep && !("error" in sweep) ? sweep : undefined,
    };
  });

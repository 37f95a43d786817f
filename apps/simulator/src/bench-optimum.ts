/**
 * `bun run bench:optimum [--sessions N] [--step-min M] [--time-limit-s S]`: the offline optimum on the shipped
 * scenario's day with N sessions (its Poisson process at N per day), printing the program's size and the time
 * to build and solve it. The target: 10,000 sessions in at most 60 s, or the size reached in that time.
 */
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { z } from "zod";
import { generateArrivals } from "./arrivals.ts";
import { offlineOptimum } from "./optimum.ts";
import { loadScenario, SHIPPED_SCENARIO } from "./scenario.ts";

const flags = parseCommandLine({
  command: "bench:optimum",
  help: `Usage: bun run bench:optimum [--sessions 10000] [--step-min 5] [--time-limit-s 60] [--solver-only]
                             [--capacity-scale 1]

The offline optimum (a linear program, HiGHS) on the shipped scenario's day with about N sessions.
--capacity-scale multiplies every substation's capacity (below 1, capacity binds and the solver must work).
--solver-only skips the greedy proof (a least-laxity schedule reaching the trivial bound) and always solves.`,
  flags: {
    sessions: { type: "string" },
    "step-min": { type: "string" },
    "time-limit-s": { type: "string" },
    "solver-only": { type: "boolean" },
    "capacity-scale": { type: "string" },
  },
  schema: z.object({
    sessions: numberFlag(1, { integer: true }).default(10_000),
    "step-min": numberFlag(1, { integer: true })
      .refine((m) => m <= 1440, "must be at most 1440 (a day)")
      .default(5),
    "time-limit-s": numberFlag(1).default(60),
    "solver-only": z.boolean().default(false),
    "capacity-scale": numberFlag(0.01).default(1),
  }),
});

const { scenario } = loadScenario(SHIPPED_SCENARIO);
const day = {
  ...scenario,
  substations: scenario.substations.map((s) => ({
    ...s,
    capacityKw: s.capacityKw * flags["capacity-scale"],
  })),
  arrivals: { peaks: [], ...scenario.arrivals, perDay: flags.sessions },
};
const arrivals = generateArrivals(day);
const cpu0 = process.cpuUsage();
const r = await offlineOptimum(day, arrivals, {
  stepMin: flags["step-min"],
  timeLimitS: flags["time-limit-s"],
  greedyProof: !flags["solver-only"],
});
const cpu = process.cpuUsage(cpu0);
const askedKwh = arrivals.reduce((sum, a) => sum + a.wantKwh, 0);
console.log(
  [
    `sessions ${arrivals.length} on ${day.substations.length} substations, step ${r.stepMin} min, sites ${r.sites}`,
    `program: ${r.variables} variables, ${r.constraints} constraints`,
    `status ${r.status} (proved by ${r.provedBy}): ${r.deliveredKwh.toFixed(0)} kWh of ${askedKwh.toFixed(0)} asked`,
    `build and solve: ${(r.solveMs / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`,
  ].join("\n"),
);

/**
 * `bun run bench:sim [--sessions 100000] [--sites 20] [--policy a,b]`: the engine's time and memory per
 * policy on a generated day (the shipped workplace-and-home scenario, its arrivals scaled to `--sessions`
 * and its substations repeated to `--sites`, so each site sees the same load per kW as in 100k/20).
 * Prints the machine's load first: figures from a shared machine are only comparable within one run.
 */
import { loadavg } from "node:os";
import { parseCommandLine } from "@evgrid/kit/cli";
import { z } from "zod";
import { generateArrivals } from "./arrivals.ts";
import { selectPolicies } from "./command-line.ts";
import { simulate } from "./engine.ts";
import { loadScenario, SHIPPED_SCENARIO } from "./scenario.ts";

const flags = parseCommandLine({
  command: "bench:sim",
  help: "Usage: bun run bench:sim [--sessions N] [--sites N] [--policy id,id]",
  flags: { sessions: { type: "string" }, sites: { type: "string" }, policy: { type: "string" } },
  schema: z.object({
    sessions: z.coerce.number().int().positive().max(10_000_000).default(100_000),
    sites: z.coerce.number().int().positive().max(10_000).default(20),
    policy: z.string().optional(),
  }),
});

const { scenario: base } = loadScenario(SHIPPED_SCENARIO);
const substations = Array.from({ length: flags.sites }, (_, i) => ({
  id: `site-${i + 1}`,
  capacityKw: (base.substations[i % base.substations.length] as { capacityKw: number }).capacityKw,
}));
const scenario = {
  ...base,
  substations,
  arrivals: { perDay: flags.sessions, peaks: base.arrivals?.peaks ?? [] },
};
const policies = selectPolicies(flags.policy);
if ("error" in policies) {
  console.error(`bench:sim: ${policies.error}`);
  process.exit(2);
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
/** The scale targets (issue 22), at the sizes they are set for: a policy's time, and its process's RSS. */
const TARGETS: Record<string, { s: number; rssMb: number }> = {
  "100000/20": { s: 10, rssMb: Number.POSITIVE_INFINITY },
  "1000000/200": { s: 60, rssMb: 1536 },
};
const target = TARGETS[`${flags.sessions}/${flags.sites}`];
const verdict = (s: number, rss: number) => {
  if (!target) return "";
  const limits = `≤ ${target.s} s${Number.isFinite(target.rssMb) ? `, RSS ≤ ${target.rssMb} MB` : ""}`;
  return s <= target.s && rss <= target.rssMb * 2 ** 20
    ? `  target ${limits}: met`
    : `  target ${limits}: NOT MET`;
};
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} (${navigator.hardwareConcurrency} cores)`,
);
let t0 = performance.now();
const arrivals = generateArrivals(scenario);
console.log(
  `${arrivals.length} arrivals on ${flags.sites} sites generated in ${((performance.now() - t0) / 1000).toFixed(1)} s, RSS ${mb(process.memoryUsage.rss())}`,
);
for (const policy of policies) {
  t0 = performance.now();
  let settled = 0;
  const r = simulate(scenario, arrivals, policy, {
    onSession: () => {
      settled += 1;
    },
  });
  const s = (performance.now() - t0) / 1000;
  // The process's peak so far (the target is on the peak; with one policy a run, as at 1M, it is the policy's).
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(
    `${policy.id.padEnd(18)} ${s.toFixed(1).padStart(6)} s  peak RSS ${mb(rss).padStart(7)}  delivered ${(r.deliveredKwh / 1000).toFixed(1)} MWh of ${(r.wantedKwh / 1000).toFixed(1)}  settled ${settled}${verdict(s, rss)}`,
  );
}

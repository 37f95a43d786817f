/**
 * `bun run soak:chain`: the whole chain (`bun run dev`: charge-api, balancer, one substation, the gateway)
 * under a steady arrival rate of short sessions through the public API, printing each app's resident
 * memory (RSS) every --sample-s, and at the end each app's last RSS over its RSS at the first sample (the
 * target: ≤ 1.3 after 10 minutes). The allocator setting is the dev runner's unless MIMALLOC_PURGE_DELAY
 * is in the environment (100 is mimalloc's default, -1 never purges).
 *   bun run soak:chain [--duration-s 600] [--rate 200] [--sample-s 60] [--retention-s 60] (--help)
 */
import type { AppRouter } from "@evgrid/charge-api";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { onShutdown } from "@evgrid/kit/process";
import { rssBytes, startDev, stopDevRuns } from "@evgrid/testing";
import { createTRPCClient, httpLink } from "@trpc/client";
import { z } from "zod";
import { chargeRequests } from "./load/charge.ts";
import { runOpen } from "./load/driver.ts";
import { RunStats, summarizeLatency } from "./load/stats.ts";

const HELP = `Usage: bun run soak:chain [options]

Starts the whole chain (bun run dev: charge-api, balancer, one substation, the OCPP gateway) and sends it new
vehicles at a steady rate through the public API (1 s sessions). Every --sample-s it prints each app's
resident memory (RSS); at the end, each app's last RSS over its first sample (issue 21's target: <= 1.3
after 10 minutes). The allocator setting is the dev runner's (MIMALLOC_PURGE_DELAY=-1) unless the shell
sets MIMALLOC_PURGE_DELAY.

Options:
  --duration-s <s>     how long to send                                   (default: 600)
  --rate <n/s>         new vehicles per second                            (default: 200)
  --sample-s <s>       how often to read each app's RSS                   (default: 60)
  --retention-s <s>    how long ended sessions and idempotency keys are kept (default: 60)
  -h, --help           show this help

Ctrl-C, SIGTERM or its terminal closed stops the chain and removes its data; exit 130.`;

const values = parseCommandLine({
  command: "soak:chain",
  help: HELP,
  flags: {
    "duration-s": { type: "string" },
    rate: { type: "string" },
    "sample-s": { type: "string" },
    "retention-s": { type: "string" },
  },
  schema: z.object({
    "duration-s": numberFlag(1).default(600),
    rate: numberFlag(1).default(200),
    "sample-s": numberFlag(1).default(60),
    "retention-s": numberFlag(1).default(60),
  }),
});
const durationS = Number(values["duration-s"]);
const rate = Number(values.rate);
const sampleS = Number(values["sample-s"]);
const retentionH = String(Number(values["retention-s"]) / 3600);
const APPS = ["charge-api", "balancer", "substation", "ocpp-gateway"];
// Ctrl-C, SIGTERM or a closed terminal: the bun run dev measured stops, its data directory goes; exit 130.
onShutdown(stopDevRuns, { signalExitCode: 130, timeoutMs: 30_000, hangup: true });

const dev = await startDev(
  ["--random-ports", "--no-quotas", "--substations", "1", "--capacities", "1000000"],
  {
    env: {
      OTEL_SDK_DISABLED: "true",
      LOG_LEVEL: "warn",
      // Ended sessions and idempotency keys are dropped after a short while, as in `bun run soak`: memory
      // that grows with kept history is the journal's, not the allocator's.
      SUBSTATION_RETENTION_H: retentionH,
      IDEMPOTENCY_TTL_H: retentionH,
    },
    timeoutMs: 120_000,
  },
);
const mb = (b: number) => Math.round(b / 2 ** 20);
try {
  const pids = Object.fromEntries(
    await Promise.all(APPS.map(async (a) => [a, (await dev.pidsOf(`apps/${a}/`))[0] as number] as const)),
  );
  console.log(
    `soak:chain: ${rate} requests/s of 1 s sessions for ${durationS} s, RSS every ${sampleS} s, MIMALLOC_PURGE_DELAY=${process.env.MIMALLOC_PURGE_DELAY ?? "-1 (dev runner)"}`,
  );
  console.log(["at s", "req/s", "p99 ms", ...APPS.map((a) => `${a} MB`)].join("\t"));
  const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${dev.urls.chargeApi}/trpc` })] });
  const stats = new RunStats();
  const rss: Record<string, number[]> = Object.fromEntries(APPS.map((a) => [a, []]));
  const t0 = performance.now();
  let lastDone = 0;
  const sample = async () => {
    const atS = Math.round((performance.now() - t0) / 1000);
    const window = summarizeLatency(stats.takeWindow());
    const perS = Math.round((stats.completed - lastDone) / sampleS);
    lastDone = stats.completed;
    const now = await Promise.all(APPS.map(async (a) => rssBytes(pids[a] as number)));
    for (const [i, b] of now.entries()) rss[APPS[i] as string]?.push(b);
    console.log([atS, perS, window.p99Ms, ...now.map(mb)].join("\t"));
  };
  let sampling = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sample();
  }, sampleS * 1000);
  await runOpen(
    stats,
    chargeRequests(api, "soak", { maxKw: 11, durationS: 1 }),
    rate,
    { durationS },
    {
      maxInflight: 1000,
      poisson: false,
    },
  );
  clearInterval(sampler);
  await sampling;
  // The last sample at the end of the load, so a 600 s soak reports its RSS at 10 minutes.
  if (performance.now() - t0 > ((rss[APPS[0] as string]?.length ?? 0) + 0.5) * sampleS * 1000) await sample();
  console.log(`done: ${stats.completed} requests, ${stats.completed - stats.admitted} not admitted`);
  for (const a of APPS) {
    const r = rss[a] ?? [];
    if (r.length < 2) continue;
    console.log(
      `  ${a.padEnd(13)} RSS ${mb(r[0] as number)} MB at ${sampleS} s -> ${mb(r.at(-1) as number)} MB at the end: ${((r.at(-1) as number) / (r[0] as number)).toFixed(2)}x`,
    );
  }
} finally {
  await dev.terminate();
  await dev[Symbol.asyncDispose]();
}

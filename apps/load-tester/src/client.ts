/**
 * The typed tRPC client script: sends charge requests to the public API and prints where each went.
 * Defaults reproduce the original tester (20 requests, 0.5 s apart). `bun run client --help` for flags.
 */
import type { AppRouter } from "@evgrid/charge-api";
import { errorDataOf } from "@evgrid/contract";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { createTRPCClient, httpLink } from "@trpc/client";
import { z } from "zod";
import { baseUrlFlag } from "./flags.ts";
import { describeOutcome, formatSummary, type Outcome, summarize } from "./summary.ts";

const HELP = `Usage: bun run client [options]

Sends charge requests to the charge-api over typed tRPC and prints where each one was routed.

Options:
  --url <url>            charge-api base URL             (default: $CHARGE_API_URL or http://127.0.0.1:8080)
  --count <n>            number of requests              (default: 20)
  --interval <s>         seconds between request starts  (default: 0.5; 0 = as fast as --concurrency allows)
  --concurrency <n>      requests in flight at most      (default: 1)
  --max-kw <kW>          each vehicle's maximum power    (default: 11)
  --min-kw <kW>          each vehicle's minimum power    (default: min(max-kw, 4.2))
  --duration-s <s>       session length in seconds       (default: 5)
  --vehicle-prefix <p>   vehicle ids are <p>-<n>         (default: client-<pid>)
  --timeout-ms <ms>      per-request timeout             (default: 10000)
  --json                 print one JSON document instead of lines and a table
  -h, --help             show this help

Exit status: 0 when every request got an answer (admitted or refused), 1 when some failed, 2 on bad flags.`;

const flags = parseCommandLine({
  command: "client",
  help: HELP,
  flags: {
    url: { type: "string" },
    count: { type: "string" },
    interval: { type: "string" },
    concurrency: { type: "string" },
    "max-kw": { type: "string" },
    "min-kw": { type: "string" },
    "duration-s": { type: "string" },
    "vehicle-prefix": { type: "string" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
  },
  schema: z
    .object({
      url: baseUrlFlag,
      count: numberFlag(1, { integer: true }).default(20),
      interval: numberFlag(0).default(0.5),
      concurrency: numberFlag(1, { integer: true }).default(1),
      "max-kw": numberFlag(0).default(11),
      "min-kw": numberFlag(0).optional(),
      "duration-s": numberFlag(0).default(5),
      "vehicle-prefix": z.string().min(1).default(`client-${process.pid}`),
      "timeout-ms": numberFlag(1, { integer: true }).default(10_000),
      json: z.boolean().default(false),
    })
    .transform((f) => ({
      url: f.url,
      count: f.count,
      intervalS: f.interval,
      concurrency: f.concurrency,
      maxKw: f["max-kw"],
      minKw: f["min-kw"],
      durationS: f["duration-s"],
      vehiclePrefix: f["vehicle-prefix"],
      timeoutMs: f["timeout-ms"],
      json: f.json,
    })),
  fallbacks: { url: process.env.CHARGE_API_URL ?? "http://127.0.0.1:8080" },
});
const api = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${flags.url}/trpc` })] });

async function send(index: number): Promise<Outcome> {
  const started = performance.now();
  try {
    const grant = await api.requestCharge.mutate(
      {
        vehicleId: `${flags.vehiclePrefix}-${index}`,
        maxKw: flags.maxKw,
        ...(flags.minKw === undefined ? {} : { minKw: flags.minKw }),
        durationS: flags.durationS,
      },
      { signal: AbortSignal.timeout(flags.timeoutMs) },
    );
    return { index, ok: true, grant, latencyMs: performance.now() - started };
  } catch (err) {
    const data = errorDataOf(err);
    const attempts = (data?.details?.substations ?? []) as { substationId: string; outcome: string }[];
    return {
      index,
      ok: false,
      code: data?.code ?? "NETWORK",
      reason: data?.reason ?? "UNREACHABLE",
      message: err instanceof Error ? err.message : String(err),
      latencyMs: performance.now() - started,
      refusedBy: attempts.filter((a) => a.outcome !== "failed").map((a) => a.substationId),
    };
  }
}

/** Starts request i at i × interval, never more than `concurrency` in flight. */
async function run(): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const t0 = performance.now();
  let next = 1;
  const worker = async () => {
    while (next <= flags.count) {
      const index = next++;
      const startAtMs = (index - 1) * flags.intervalS * 1000;
      const waitMs = startAtMs - (performance.now() - t0);
      if (waitMs > 0) await Bun.sleep(waitMs);
      const outcome = await send(index);
      outcomes.push(outcome);
      if (!flags.json) console.log(describeOutcome(outcome));
    }
  };
  await Promise.all(Array.from({ length: Math.min(flags.concurrency, flags.count) }, worker));
  return outcomes.sort((a, b) => a.index - b.index);
}

const outcomes = await run();
const summary = summarize(outcomes);
if (flags.json) {
  console.log(JSON.stringify({ url: flags.url, summary, outcomes }, null, 2));
} else {
  console.log(`\n${formatSummary(summary)}`);
}
const networkFailures = outcomes.filter((o) => !o.ok && o.code !== "TOO_MANY_REQUESTS").length;
process.exit(networkFailures > 0 ? 1 : 0);

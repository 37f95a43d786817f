/**
 * `bun run load`: drives the public API with the typed tRPC client, open model (arrival rate) or closed
 * model (concurrency), shows live progress and ends with a summary. `bun run load --help`.
 */
import type { AppRouter } from "@evgrid/charge-api";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { createTRPCClient, httpLink } from "@trpc/client";
import logUpdate from "log-update";
import { z } from "zod";
import { baseUrlFlag } from "./flags.ts";
import { chargeRequests } from "./load/charge.ts";
import { runClosed, runOpen } from "./load/driver.ts";
import { GridWatcher, loadRatio, viaGridStatus } from "./load/grid-watch.ts";
import { buildReport, formatReport, progressLine } from "./load/report.ts";
import { RunStats, unanswered } from "./load/stats.ts";

const HELP = `Usage: bun run load [options]

Sends charge requests to the charge-api and reports throughput, latency, outcomes and how evenly the
substations were loaded. Either a fixed arrival rate (open model, --rate) or a fixed number of concurrent
users (closed model, --concurrency; the default).

Options:
  --url <url>           charge-api base URL            (default: $CHARGE_API_URL or http://127.0.0.1:8080)
  --rate <req/s>        open model: arrivals per second
  --poisson             open model: Poisson arrivals instead of evenly spaced ones
  --max-inflight <n>    open model: drop arrivals beyond this many outstanding   (default: 10000)
  --concurrency <n>     closed model: concurrent users                           (default: 32)
  --duration-s <s>      how long to send                                         (default: 10)
  --count <n>           send exactly this many requests instead
  --max-kw <kW>         each vehicle's maximum power                             (default: 11)
  --min-kw <kW>         each vehicle's minimum power                             (default: min(max-kw, 4.2))
  --session-s <s>       each session's duration                                  (default: 5)
  --wait-s <s>          each request waits up to this long for freed power (waitS)
  --vehicle-prefix <p>  vehicle ids are <p>-<n>                                  (default: load-<pid>)
  --api-key <key>       send this API key (charge-api with API_KEYS)             (default: $API_KEY)
  --watch-ms <ms>       how often to sample the grid's load (0: never)           (default: 250)
  --json                print one JSON report, nothing else
  --no-progress         no live progress line
  -h, --help            show this help

Exit status: 0 when every request got an answer (admitted or refused), 1 when some got none (the API
unreachable or cut off, or an internal error), 2 on bad flags.

Examples:
  bun run load --rate 200 --duration-s 30 --poisson
  bun run load --concurrency 256 --count 2000 --session-s 120`;

const f = parseCommandLine({
  command: "load",
  help: HELP,
  flags: {
    url: { type: "string" },
    rate: { type: "string" },
    poisson: { type: "boolean" },
    "max-inflight": { type: "string" },
    concurrency: { type: "string" },
    "duration-s": { type: "string" },
    count: { type: "string" },
    "max-kw": { type: "string" },
    "min-kw": { type: "string" },
    "session-s": { type: "string" },
    "wait-s": { type: "string" },
    "vehicle-prefix": { type: "string" },
    "api-key": { type: "string" },
    "watch-ms": { type: "string" },
    json: { type: "boolean" },
    "no-progress": { type: "boolean" },
  },
  schema: z
    .object({
      url: baseUrlFlag,
      rate: numberFlag(0.001).optional(),
      poisson: z.boolean().default(false),
      "max-inflight": numberFlag(1, { integer: true }).default(10_000),
      concurrency: numberFlag(1, { integer: true }).optional(),
      "duration-s": numberFlag(0.1).optional(),
      count: numberFlag(1, { integer: true }).optional(),
      "max-kw": numberFlag(0).default(11),
      "min-kw": numberFlag(0).optional(),
      "session-s": numberFlag(0).default(5),
      "wait-s": numberFlag(0).optional(),
      "vehicle-prefix": z.string().min(1).default(`load-${process.pid}`),
      "api-key": z.string().min(1).optional(),
      "watch-ms": numberFlag(0, { integer: true }).default(250),
      json: z.boolean().default(false),
      "no-progress": z.boolean().default(false),
    })
    .refine((o) => o.rate === undefined || o.concurrency === undefined, {
      message: "give --rate (open model) or --concurrency (closed model), not both",
    })
    .refine((o) => o.count === undefined || o["duration-s"] === undefined, {
      message: "give --count or --duration-s, not both",
    })
    .transform((o) => ({
      url: o.url,
      rate: o.rate,
      concurrency: o.concurrency ?? 32,
      poisson: o.poisson,
      maxInflight: o["max-inflight"],
      stop: o.count !== undefined ? { count: o.count } : { durationS: o["duration-s"] ?? 10 },
      maxKw: o["max-kw"],
      minKw: o["min-kw"],
      sessionS: o["session-s"],
      waitS: o["wait-s"],
      vehiclePrefix: o["vehicle-prefix"],
      apiKey: o["api-key"],
      watchMs: o["watch-ms"],
      json: o.json,
      progress: !o["no-progress"] && !o.json,
    })),
  fallbacks: {
    url: process.env.CHARGE_API_URL ?? "http://127.0.0.1:8080",
    ...(process.env.API_KEY ? { "api-key": process.env.API_KEY } : {}),
  },
});
const api = createTRPCClient<AppRouter>({
  links: [
    httpLink({ url: `${f.url}/trpc`, headers: f.apiKey ? { authorization: `Bearer ${f.apiKey}` } : {} }),
  ],
});
try {
  await api.gridStatus.query();
} catch (err) {
  console.error(`load: cannot reach the charge-api at ${f.url}: ${(err as Error).message}`);
  process.exit(1);
}

const request = {
  maxKw: f.maxKw,
  durationS: f.sessionS,
  ...(f.minKw === undefined ? {} : { minKw: f.minKw }),
  ...(f.waitS === undefined ? {} : { waitS: f.waitS }),
};
const send = chargeRequests(api, f.vehiclePrefix, request);

const stats = new RunStats();
const watcher =
  f.watchMs > 0
    ? new GridWatcher(
        viaGridStatus(() => api.gridStatus.query()),
        f.watchMs,
      )
    : null;
watcher?.start();

const t0 = performance.now();
const live = process.stdout.isTTY ? logUpdate : (s: string) => console.log(s);
const progressEveryMs = process.stdout.isTTY ? 500 : 2000;
const ticker = f.progress
  ? setInterval(() => {
      const shares = (watcher?.latest ?? [])
        .map(
          (l) =>
            `  ${l.substationId} ${(l.utilization * 100).toFixed(0)}% util, load ${loadRatio(l).toFixed(2)}`,
        )
        .join("\n");
      live(progressLine(stats, (performance.now() - t0) / 1000, progressEveryMs / 1000, shares));
    }, progressEveryMs)
  : undefined;

if (f.rate !== undefined) {
  await runOpen(stats, send, f.rate, f.stop, { maxInflight: f.maxInflight, poisson: f.poisson });
} else {
  await runClosed(stats, send, f.concurrency, f.stop);
}
const elapsedS = (performance.now() - t0) / 1000;
clearInterval(ticker);
if (f.progress && process.stdout.isTTY) logUpdate.done();
const grid = watcher ? await watcher.stop() : null;
const report = buildReport(f.rate !== undefined ? "open" : "closed", f.url, stats, elapsedS, grid);
console.log(f.json ? JSON.stringify(report, null, 2) : `\n${formatReport(report)}`);
// A request that got no answer (unreachable, cut off, an internal error) fails the run; a refusal does not.
if (unanswered(stats) > 0) process.exitCode = 1;

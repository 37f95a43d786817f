/**
 * `bun run load`: drives the public API with the typed tRPC client, open model (arrival rate) or closed
 * model (concurrency), shows live progress and ends with a summary. `bun run load --help`.
 */
import { parseArgs } from "node:util";
import type { AppRouter } from "@evgrid/charge-api";
import { createTRPCClient, httpLink } from "@trpc/client";
import logUpdate from "log-update";
import { parseNumberFlag } from "./flags.ts";
import { chargeRequests } from "./load/charge.ts";
import { runClosed, runOpen } from "./load/driver.ts";
import { GridWatcher, loadRatio, viaGridStatus } from "./load/grid-watch.ts";
import { buildReport, formatReport, progressLine } from "./load/report.ts";
import { RunStats } from "./load/stats.ts";

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

Examples:
  bun run load --rate 200 --duration-s 30 --poisson
  bun run load --concurrency 256 --count 2000 --session-s 120`;

function fail(message: string): never {
  console.error(`load: ${message}\n\n${HELP}`);
  process.exit(2);
}

function flags() {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: Bun.argv.slice(2),
      options: {
        url: { type: "string" },
        rate: { type: "string" },
        poisson: { type: "boolean" },
        "max-inflight": { type: "string", default: "10000" },
        concurrency: { type: "string" },
        "duration-s": { type: "string" },
        count: { type: "string" },
        "max-kw": { type: "string", default: "11" },
        "min-kw": { type: "string" },
        "session-s": { type: "string", default: "5" },
        "wait-s": { type: "string" },
        "vehicle-prefix": { type: "string" },
        "api-key": { type: "string" },
        "watch-ms": { type: "string", default: "250" },
        json: { type: "boolean", default: false },
        "no-progress": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: string, min: number, integer = false): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const parsed = parseNumberFlag(name, raw, min, integer);
    if (!parsed.ok) fail(parsed.message);
    return parsed.value;
  };
  const rate = num("rate", 0.001);
  const concurrency = num("concurrency", 1, true);
  if (rate !== undefined && concurrency !== undefined)
    fail("give --rate (open model) or --concurrency (closed model), not both");
  const count = num("count", 1, true);
  const durationS = num("duration-s", 0.1);
  if (count !== undefined && durationS !== undefined) fail("give --count or --duration-s, not both");
  const url = String(values.url ?? process.env.CHARGE_API_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  if (!/^https?:\/\/[^/]+$/.test(url)) fail(`--url must be an http(s) base URL, got ${JSON.stringify(url)}`);
  return {
    url,
    rate,
    concurrency: concurrency ?? 32,
    poisson: values.poisson === true,
    maxInflight: num("max-inflight", 1, true) as number,
    stop: count !== undefined ? { count } : { durationS: durationS ?? 10 },
    maxKw: num("max-kw", 0) as number,
    minKw: num("min-kw", 0),
    sessionS: num("session-s", 0) as number,
    waitS: num("wait-s", 0),
    vehiclePrefix: String(values["vehicle-prefix"] ?? `load-${process.pid}`),
    apiKey: (values["api-key"] as string | undefined) ?? process.env.API_KEY,
    watchMs: num("watch-ms", 0, true) as number,
    json: values.json === true,
    progress: values["no-progress"] !== true && values.json !== true,
  };
}

const f = flags();
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

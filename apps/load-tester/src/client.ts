/**
 * The typed tRPC client script: sends charge requests to the public API and prints where each went.
 * Defaults reproduce the original tester (20 requests, 0.5 s apart). `bun run client --help` for flags.
 */
import type { AppRouter } from "@evgrid/charge-api";
import { errorDataOf, MAX_DURATION_S, MAX_SESSION_KW, MIN_SESSION_KW } from "@evgrid/contract";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import { EventSource } from "eventsource";
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
  --max-kw <kW>          each vehicle's maximum power    (default: 11; ${MIN_SESSION_KW} to ${MAX_SESSION_KW})
  --min-kw <kW>          each vehicle's minimum power    (default: min(max-kw, 4.2); at most max-kw)
  --duration-s <s>       session length in seconds       (default: 5; at most ${MAX_DURATION_S})
  --vehicle-prefix <p>   vehicle ids are <p>-<n>         (default: client-<pid>)
  --timeout-ms <ms>      per-request timeout             (default: 10000; at most 3600000)
  --api-key <key>        send this API key (a charge-api with API_KEYS)  (default: $API_KEY)
  --json                 print one JSON document instead of lines and a table
  --watch                then watch every admitted session live (power, energy, end) until all end
  -h, --help             show this help

Exit status: 0 when every request got an answer (admitted or refused), 1 when some failed, 2 on bad flags.`;

/** How long after a watched session was due to end its stream may stay quiet before the watch gives up. */
const WATCH_GRACE_S = 30;
/** A power flag: what the API accepts. */
const kw = numberFlag(0).refine(
  (x) => x >= MIN_SESSION_KW && x <= MAX_SESSION_KW,
  `must be from ${MIN_SESSION_KW} to ${MAX_SESSION_KW} kW`,
);

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
    "api-key": { type: "string" },
    json: { type: "boolean" },
    watch: { type: "boolean" },
  },
  schema: z
    .object({
      url: baseUrlFlag,
      count: numberFlag(1, { integer: true }).default(20),
      interval: numberFlag(0).default(0.5),
      concurrency: numberFlag(1, { integer: true }).default(1),
      "max-kw": kw.default(11),
      "min-kw": kw.optional(),
      "duration-s": numberFlag(0)
        .refine((s) => s > 0 && s <= MAX_DURATION_S, `must be above 0 and at most ${MAX_DURATION_S}`)
        .default(5),
      "vehicle-prefix": z.string().min(1).default(`client-${process.pid}`),
      "timeout-ms": numberFlag(1, { integer: true })
        .refine((ms) => ms <= 3_600_000, "must be at most 3600000 (an hour)")
        .default(10_000),
      "api-key": z.string().min(1).optional(),
      json: z.boolean().default(false),
      watch: z.boolean().default(false),
    })
    .refine((f) => f["min-kw"] === undefined || f["min-kw"] <= f["max-kw"], {
      path: ["min-kw"],
      message: "must not be above --max-kw",
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
      apiKey: f["api-key"],
      json: f.json,
      watch: f.watch,
    })),
  fallbacks: {
    url: process.env.CHARGE_API_URL ?? "http://127.0.0.1:8080",
    ...(process.env.API_KEY ? { "api-key": process.env.API_KEY } : {}),
  },
});
const url = `${flags.url}/trpc`;
// An API key goes on every call, and on the watch's event stream (the eventsource package's own fetch).
const auth: Record<string, string> = flags.apiKey ? { authorization: `Bearer ${flags.apiKey}` } : {};
// Calls over plain HTTP; watching over SSE (Bun has no EventSource of its own: the eventsource package).
const api = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === "subscription",
      true: httpSubscriptionLink({
        url,
        EventSource,
        eventSourceOptions: {
          fetch: (input: string | URL | Request, init?: RequestInit) =>
            fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...auth } }),
        },
      }),
      false: httpLink({ url, headers: auth }),
    }),
  ],
});

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
if (flags.watch) await watchAll(outcomes);
const networkFailures = outcomes.filter((o) => !o.ok && o.code !== "TOO_MANY_REQUESTS").length;
process.exit(networkFailures > 0 ? 1 : 0);

/** Follows every admitted session (watchSession over SSE), one line per change, until each has ended. */
async function watchAll(all: Outcome[]): Promise<void> {
  const admitted = all.flatMap((o) => (o.ok ? [o.grant] : []));
  if (admitted.length === 0) return;
  if (!flags.json) console.log(`\nwatching ${admitted.length} sessions (Ctrl-C to stop):`);
  await Promise.all(
    admitted.map(
      (grant) =>
        new Promise<void>((done) => {
          // A stream that goes quiet (the system stopped: the link reconnects without end) is given up half
          // a minute after the session should have ended, saying so.
          const quiet = setTimeout(
            () => {
              console.error(
                `${grant.vehicleId}: no end heard ${WATCH_GRACE_S} s after it was due; stopped watching`,
              );
              sub.unsubscribe();
              resolve();
            },
            (flags.durationS + WATCH_GRACE_S) * 1000,
          );
          const resolve = () => {
            clearTimeout(quiet);
            done();
          };
          const sub = api.watchSession.subscribe(
            {
              sessionId: grant.sessionId,
              ...(grant.sessionSecret ? { sessionSecret: grant.sessionSecret } : {}),
            },
            {
              onData: (u) => {
                const time = new Date(u.atMs).toISOString().slice(11, 19);
                const what =
                  u.status === "ended"
                    ? `ended (${u.endReason}), ${u.deliveredKwh.toFixed(3)} kWh`
                    : `${u.allocatedKw.toFixed(1)} kW, ${u.deliveredKwh.toFixed(3)} kWh`;
                if (!flags.json) console.log(`${time}  ${grant.vehicleId}  ${grant.substationId}  ${what}`);
                if (u.status === "ended") {
                  sub.unsubscribe();
                  resolve();
                }
              },
              onError: (err) => {
                console.error(`${grant.vehicleId}: cannot watch: ${err.message}`);
                resolve();
              },
              onComplete: resolve,
            },
          );
        }),
    ),
  );
}

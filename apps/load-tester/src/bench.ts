/**
 * `bun run bench`: measures, in one run on this machine, the bare three-process Bun chain, this system end
 * to end with telemetry off and on, its cost as substations grow, a burst, and the substation's own cost
 * at 10 and 10,000 sessions. Prints a table and JSON, and rewrites the generated part of BENCHMARKS.md.
 */
import { cpus, release, totalmem } from "node:os";
import { resolve } from "node:path";
import { parseCommandLine } from "@evgrid/kit/cli";
import { onShutdown } from "@evgrid/kit/process";
import { cpuMs, repoRoot, spawnListening, startDev, stopStarted } from "@evgrid/testing";
import { z } from "zod";
import { type HomesCost, homesCost } from "./bench/memory-cost.ts";
import { type BenchResults, renderReport, writeReport } from "./bench/report.ts";
import { type BurstResult, burst, closedLoad, type Throughput } from "./bench/run.ts";
import { type StationCost, stationCost } from "./bench/station-cost.ts";
import { benchTargets, type ChainCpu, chainCpuUs, type SystemRun } from "./bench/targets.ts";

const HELP = `Usage: bun run bench [--quick | --smoke] [--json] [--no-write]

  --quick      short runs of every measurement (numbers are noisy)
  --smoke      the least that exercises the machinery: bare chain, 2 substations with and without
               traces, a small burst, the substation's cost (the test suite runs this; numbers mean little)
  --json       print only the JSON results
  --no-write   do not update BENCHMARKS.md`;
const values = parseCommandLine({
  command: "bench",
  help: HELP,
  flags: {
    quick: { type: "boolean" },
    smoke: { type: "boolean" },
    json: { type: "boolean" },
    "no-write": { type: "boolean" },
  },
  schema: z
    .object({ quick: z.boolean(), smoke: z.boolean(), json: z.boolean(), "no-write": z.boolean() })
    .partial()
    .refine((v) => !(v.quick && v.smoke), "--quick and --smoke are alternatives: give one"),
});
// Ctrl-C, SIGTERM, a closed terminal: every process it started stops, its data directories go; exit 130.
onShutdown(stopStarted, { signalExitCode: 130, timeoutMs: 30_000, hangup: true });
const smoke = values.smoke === true;
const quick = values.quick === true || smoke;
const say = (s: string) => {
  if (!values.json) console.log(s);
};

const LOAD = {
  concurrency: 64,
  durationS: smoke ? 0.5 : quick ? 1 : 8,
  // 10 s: the JIT compiles each app's hot code in its first seconds under load. After a 2 s warm-up its
  // threads still took 60-76 µs per request across the chain in the next 8 s, after 10 s 13 (BENCHMARKS.md).
  warmupS: smoke ? 0.2 : quick ? 0.5 : 10,
  sessionS: 1,
};
const BIG_KW = "1000000"; // every request admitted: the benchmark measures the admission path, not refusals
const BUN = process.execPath;
const room = { BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" };
// Both chains with the same allocator setting: the dev runner's (MIMALLOC_PURGE_DELAY=-1 unless the shell says).
const allocator = { MIMALLOC_PURGE_DELAY: process.env.MIMALLOC_PURGE_DELAY ?? "-1" };

/** Three bare processes in a chain: HTTP hops (fetch), or WebSocket hops after the first. */
async function bareChain(transport: "http" | "ws"): Promise<Throughput> {
  const hop = resolve(import.meta.dir, transport === "http" ? "bench/bare-hop.ts" : "bench/bare-ws-hop.ts");
  const next = (url: string, path: string): Record<string, string> =>
    transport === "http" ? { NEXT_URL: url, NEXT_PATH: path } : { NEXT_URL: url.replace(/^http/, "ws") };
  const c = await spawnListening([BUN, hop], { ...allocator, PORT: "0" });
  const b = await spawnListening([BUN, hop], {
    ...allocator,
    ...room,
    PORT: "0",
    ...next(c.url, "/trpc/startSession"),
  });
  const a = await spawnListening([BUN, hop], {
    ...allocator,
    ...room,
    PORT: "0",
    ...next(b.url, "/trpc/dispatch"),
  });
  try {
    return await closedLoad(a.url, LOAD);
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
}

interface SystemOptions {
  substations: number;
  /** Where to export every span; none: traces off (metrics stay on, as always). */
  tracesTo?: string;
  /** More settings for every app (the journal's, the transport's). */
  env?: Record<string, string>;
}

async function system(o: SystemOptions): Promise<SystemRun> {
  const env: Record<string, string> = {
    ...(o.tracesTo
      ? { OTEL_EXPORTER_OTLP_ENDPOINT: o.tracesTo, OTEL_TRACES_SAMPLER: "parentbased_always_on" }
      : { OTEL_SDK_DISABLED: "true" }),
    ...o.env,
  };
  // However many substations, two processes host them: the runs then differ in N, not in how many busy
  // processes share the machine's cores.
  const perProcess = String(Math.max(1, Math.ceil(o.substations / 2)));
  const dev = await startDev(
    [
      "--random-ports",
      "--no-quotas",
      "--substations",
      String(o.substations),
      "--substations-per-process",
      perProcess,
      "--capacities",
      BIG_KW,
    ],
    { env, timeoutMs: 120_000 },
  );
  try {
    // The balancer's own CPU per dispatch isolates the cost of choosing from the machine-wide effect of
    // the other processes on a few cores; the chain's CPU per request (every thread of each app on the
    // request path, the idle gateway left out) is issue 21's absolute target.
    const pids = {
      chargeApi: await dev.pidsOf("apps/charge-api/"),
      balancer: await dev.pidsOf("apps/balancer/"),
      substations: await dev.pidsOf("apps/substation/"),
    };
    const cpuOf = async (list: number[]) => (await Promise.all(list.map(cpuMs))).reduce((a, b) => a + b, 0);
    const cpuNow = async () => ({
      chargeApi: await cpuOf(pids.chargeApi),
      balancer: await cpuOf(pids.balancer),
      substations: await cpuOf(pids.substations),
    });
    // The CPU window opens after the warm-up: the measured requests only, on warm processes.
    let before = { chargeApi: 0, balancer: 0, substations: 0 };
    const t = await closedLoad(dev.urls.chargeApi, LOAD, async () => {
      before = await cpuNow();
    });
    const after = await cpuNow();
    const perRequest = (k: keyof typeof before) => ((after[k] - before[k]) * 1000) / t.requests;
    const cpuUsPerRequest = {
      chargeApi: perRequest("chargeApi"),
      balancer: perRequest("balancer"),
      substations: perRequest("substations"),
    };
    return { ...t, cpuUsPerRequest };
  } finally {
    await dev.terminate();
    await dev[Symbol.asyncDispose]();
  }
}

async function burstRun(replicas = 1): Promise<BurstResult> {
  // 4 substations of mixed capacity, 26 MW; 2,000 x 11 kW = 22 MW of demand: all admitted, sites shared.
  const capacities = [10_000, 7_000, 5_000, 4_000];
  const shared = replicas > 1 ? ["--balancers", String(replicas), "--redis"] : [];
  const dev = await startDev(
    ["--random-ports", "--no-quotas", "--capacities", capacities.join(","), ...shared],
    // A local redis-server for the replicas, whatever REDIS_URL the shell has.
    { timeoutMs: 60_000, ...(replicas > 1 ? { env: { REDIS_URL: "" } } : {}) },
  );
  try {
    const urls = Object.keys(dev.urls.substations)
      .sort()
      .map((id) => dev.urls.substations[id] as string);
    return await burst(dev.urls.chargeApi, urls, {
      count: smoke ? 100 : quick ? 400 : 2000,
      concurrency: 256,
      sessionS: 600,
      maxKw: 11,
      serviceToken: dev.urls.serviceToken,
    });
  } finally {
    await dev.terminate();
    await dev[Symbol.asyncDispose]();
  }
}

say(`bench: ${quick ? "quick " : ""}closed model, ${LOAD.concurrency} users, ${LOAD.durationS} s per run`);
const line = (name: string, t: Throughput & { cpuUsPerRequest?: ChainCpu }) => {
  const c = t.cpuUsPerRequest;
  const cpu = c
    ? `, CPU ${chainCpuUs(c).toFixed(0)} µs/req (charge-api ${c.chargeApi.toFixed(0)}, balancer ${c.balancer.toFixed(0)}, substations ${c.substations.toFixed(0)})`
    : "";
  say(`  ${name.padEnd(40)} ${t.perS.toFixed(0)} req/s${cpu}`);
};
const bare = await bareChain("http");
line("bare chain, HTTP", bare);
const bareWs = smoke ? undefined : await bareChain("ws");
if (bareWs) line("bare chain, WebSocket", bareWs);
const tracesOff = await system({ substations: 2 });
line("system, traces off", tracesOff);
const sink = await spawnListening([BUN, resolve(import.meta.dir, "bench/otlp-sink.ts")], { PORT: "0" });
const tracesOn = await system({ substations: 2, tracesTo: sink.url });
line("system, every span exported", tracesOn);
const spans = (await (await fetch(sink.url)).json()) as { exports: number; bytes: number };
await sink.stop();
const optional = async (name: string, o: SystemOptions) => {
  if (smoke) return undefined;
  const t = await system(o);
  line(name, t);
  return t;
};
const httpLinks = await optional("system, internal calls over HTTP", {
  substations: 2,
  env: { INTERNAL_TRANSPORT: "http" },
});
const memoryJournal = await optional("system, journals in memory", {
  substations: 2,
  env: { SUBSTATION_DB_PATH: ":memory:" },
});
const fullSync = await optional("system, journal sync full", {
  substations: 2,
  env: { SUBSTATION_SYNC: "full" },
});
const substations8 = await optional("system, 8 substations", { substations: 8 });
const substations32 = await optional("system, 32 substations", { substations: 32 });
const substations128 = await optional("system, 128 substations", { substations: 128 });
const burstResult = await burstRun();
say(
  `  burst                                    ${burstResult.admitted}/${burstResult.requests} admitted, ${burstResult.breaches} breaches`,
);
// The same burst through balancer replicas sharing state (a local redis-server; skipped in a smoke run).
const burstReplicas = smoke
  ? undefined
  : [
      { replicas: 2, result: await burstRun(2) },
      { replicas: 4, result: await burstRun(4) },
    ];
for (const r of burstReplicas ?? []) {
  say(
    `  burst, ${r.replicas} replicas                       ${r.result.admitted}/${r.result.requests} admitted, ${r.result.breaches} breaches, spread ${r.result.loadSpread.toFixed(4)}`,
  );
}
// The simulator on its shipped scenario, in process: the planning tool's own speed.
let simulateS: number | undefined;
if (!smoke) {
  const { loadScenario, runAll } = await import("@evgrid/simulator");
  const { scenario, dir } = loadScenario(
    resolve(repoRoot, "apps/simulator/scenarios/workplace-and-home.yaml"),
  );
  const t0 = performance.now();
  const runs = runAll(scenario, dir);
  simulateS = (performance.now() - t0) / 1000;
  say(`  simulate (${runs[0]?.vehicles} sessions, ${runs.length} policies)       ${simulateS.toFixed(2)} s`);
}
const station: [StationCost, StationCost] = smoke
  ? [await stationCost(10, 3, 500), await stationCost(1000, 3, 500)]
  : [await stationCost(10), await stationCost(10_000)];
const homes: [HomesCost, HomesCost] = smoke
  ? [homesCost(200, 3, 500), homesCost(2_000, 3, 500)]
  : [homesCost(2_000), homesCost(200_000)];

const results: BenchResults = {
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    bun: Bun.version,
  },
  settings: { ...LOAD, quick, purgeDelay: allocator.MIMALLOC_PURGE_DELAY },
  bareChain: bare,
  bareWsChain: bareWs,
  system: {
    tracesOff,
    tracesOn,
    httpLinks,
    memoryJournal,
    fullSync,
    substations8,
    substations32,
    substations128,
  },
  tracesExported: spans,
  burst: burstResult,
  burstReplicas,
  simulateS,
  station,
  homes,
  targets: benchTargets({
    bare,
    tracesOff,
    tracesOn,
    memoryJournal,
    substations32,
    substations128,
    burst: burstResult,
    burstReplicas,
    simulateS,
    station,
    homes,
  }),
};

const { table, targetTable, generated } = renderReport(results);
if (!values["no-write"] && !smoke) await writeReport(generated);
if (values.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  say(`\n${table}\n\n${targetTable}`);
}

/**
 * The tables `bun run bench` prints and the generated block it writes into BENCHMARKS.md (between the
 * `bench:` markers), from its results.
 */
import { resolve } from "node:path";
import { repoRoot } from "@evgrid/testing";
import type { HomesCost } from "./memory-cost.ts";
import type { BurstResult, Throughput } from "./run.ts";
import type { StationCost } from "./station-cost.ts";
import { blindRequests, type ChainCpu, chainCpuUs, type Target } from "./targets.ts";

type Run = Throughput & { cpuUsPerRequest?: ChainCpu };

export interface BenchResults {
  machine: { cpu: string; cores: number; memoryGiB: number; kernel: string; bun: string };
  settings: {
    concurrency: number;
    durationS: number;
    warmupS: number;
    sessionS: number;
    quick: boolean;
    /** MIMALLOC_PURGE_DELAY of every process of both chains. */
    purgeDelay: string;
  };
  bareChain: Throughput;
  bareWsChain: Throughput | undefined;
  system: Record<
    | "tracesOff"
    | "tracesOn"
    | "httpLinks"
    | "memoryJournal"
    | "fullSync"
    | "substations8"
    | "substations32"
    | "substations128",
    Run | undefined
  >;
  tracesExported: { exports: number; bytes: number };
  burst: BurstResult;
  burstReplicas: { replicas: number; result: BurstResult }[] | undefined;
  simulateS: number | undefined;
  station: StationCost[];
  homes: HomesCost[];
  targets: Target[];
}

export function renderReport(results: BenchResults) {
  const bare = results.bareChain;
  const bareWs = results.bareWsChain;
  const {
    tracesOff,
    tracesOn,
    httpLinks,
    memoryJournal,
    fullSync,
    substations8,
    substations32,
    substations128,
  } = results.system;
  const f0 = (x: number) => x.toFixed(0);
  const f2 = (x: number) => x.toFixed(2);
  /** Enough digits that a value and its limit never round to the wrong side of each other. */
  const num = (x: number) => (x !== 0 && Math.abs(x) < 0.1 ? x.toPrecision(3) : x.toFixed(2));
  const cpu = (c: ChainCpu | undefined) =>
    c ? `${f0(chainCpuUs(c))} (${f0(c.chargeApi)} / ${f0(c.balancer)} / ${f0(c.substations)})` : "";
  const row = (name: string, t: Throughput & { cpuUsPerRequest?: ChainCpu }, base: Throughput) =>
    `| ${name} | ${f0(t.perS)} | ${f2(t.perS / base.perS)} | ${t.latency.p50Ms} | ${t.latency.p99Ms} | ${t.notOk} | ${cpu(t.cpuUsPerRequest)} |`;
  const rows: [string, (Throughput & { cpuUsPerRequest?: ChainCpu }) | undefined][] = [
    ["bare chain: 3 Bun.serve processes, HTTP (fetch) hops", bare],
    ["bare chain: HTTP in, then WebSocket hops", bareWs],
    ["system: metrics on, traces off (2 substations)", tracesOff],
    ["system: every span exported", tracesOn],
    ["system: internal calls over HTTP (INTERNAL_TRANSPORT=http)", httpLinks],
    ["system: journals in memory (SUBSTATION_DB_PATH=:memory:)", memoryJournal],
    ["system: journal sync full (SUBSTATION_SYNC=full)", fullSync],
    ["system: 8 substations (2 processes)", substations8],
    ["system: 32 substations (2 processes)", substations32],
    ["system: 128 substations (2 processes)", substations128],
  ];
  const table = [
    "| run | req/s | vs bare | p50 ms | p99 ms | not 200 | CPU µs/req: chain (charge-api / balancer / substations) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.flatMap(([name, t]) => (t ? [row(name, t, bare)] : [])),
  ].join("\n");
  const targetTable = [
    "| target | measured | limit | |",
    "| --- | ---: | ---: | --- |",
    ...results.targets.map(
      (t) => `| ${t.name} | ${num(t.value)} | ${num(t.limit)} | ${t.ok ? "met" : "**not met**"} |`,
    ),
  ].join("\n");
  const burstTable = [
    "| substation | capacity kW | sessions | demand / capacity |",
    "| --- | ---: | ---: | ---: |",
    ...results.burst.substations.map(
      (s) => `| ${s.substationId} | ${f0(s.capacityKw)} | ${s.sessions} | ${s.loadRatio.toFixed(4)} |`,
    ),
  ].join("\n");
  const stationTable = [
    "| active sessions | admission + stop, µs | getLoad, µs |",
    "| ---: | ---: | ---: |",
    ...results.station.map((s) => `| ${s.sessions} | ${f2(s.admitAndStopUs)} | ${s.getLoadUs.toFixed(3)} |`),
  ].join("\n");
  const homesTable = [
    "| homes held (at the bound) | remember one dispatch, µs |",
    "| ---: | ---: |",
    ...results.homes.map((h) => `| ${h.homes} | ${f2(h.rememberUs)} |`),
  ].join("\n");

  // The same burst through balancer replicas sharing state: each replica counts only its own assignments in
  // flight, so up to R requests may pick one substation unseen by each other.
  const replicaSection = results.burstReplicas
    ? [
        "",
        "The same burst through balancer replicas sharing state (`--balancers R --redis`): each replica counts",
        "only its own assignments in flight and sees the others' admissions at its next load refresh (500 ms), so",
        "the bound is one request's share of the smallest substation times the requests one replica cannot see",
        "in a refresh period ((R-1)/R of the burst's rate x 0.5 s), plus its own. Capacity is never breached:",
        "herding costs evenness across sites, not safety.",
        "",
        "| replicas | admitted | breaches | load spread | bound | p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ...results.burstReplicas.map(
          (r) =>
            `| ${r.replicas} | ${r.result.admitted}/${r.result.requests} | ${r.result.breaches} | ${num(r.result.loadSpread)} | ${num(r.result.spreadBound * (1 + blindRequests(r.replicas, r.result.requests / r.result.durationS)))} | ${r.result.latency.p99Ms} |`,
        ),
        "",
      ].join("\n")
    : "";

  const m = results.machine;
  const generated = `<!-- bench:begin (written by \`bun run bench\`; edit outside these markers) -->
Measured ${new Date().toISOString().slice(0, 10)} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel},
Bun ${m.bun}, with \`bun run bench${results.settings.quick ? " --quick" : ""}\`. Closed model, ${results.settings.concurrency} concurrent users,
${results.settings.durationS} s per run after a ${results.settings.warmupS} s warm-up, ${results.settings.sessionS} s sessions, one vehicle per request,
same load generator for every run (the typed tRPC client). Unless the row says otherwise: internal calls on
WebSocket links, journals on disk with group commit (sync normal), metrics on, traces off. Every process of
both chains with MIMALLOC_PURGE_DELAY=${results.settings.purgeDelay}. "Every span
exported" sends each span by OTLP/protobuf to a sink process (${results.tracesExported.exports} exports,
${(results.tracesExported.bytes / 2 ** 20).toFixed(1)} MiB).

${table}

${targetTable}

Burst: ${results.burst.requests} requests at concurrency 256, ${results.burst.admitted} admitted
(${Object.entries(results.burst.outcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}), p99 ${results.burst.latency.p99Ms} ms; ${results.burst.breaches} capacity breaches in
${results.burst.samples} samples of every substation's own load; load spread ${num(results.burst.loadSpread)}
(bound ${num(results.burst.spreadBound)}).

${burstTable}
${replicaSection}
Substation cost, in process (four power classes):

${stationTable}

Balancer memory, in process (10,000 dispatches a second in virtual time, each with a key and a vehicle):

${homesTable}
<!-- bench:end -->`;
  return { table, targetTable, generated };
}

/** Rewrites the generated block of BENCHMARKS.md, laid out as the repository's formatter wants it. */
export async function writeReport(generated: string): Promise<void> {
  const path = resolve(repoRoot, "BENCHMARKS.md");
  const file = Bun.file(path);
  const current = (await file.exists())
    ? await file.text()
    : "# Benchmarks\n\n<!-- bench:begin -->\n<!-- bench:end -->\n";
  const next = current.replace(/<!-- bench:begin[\s\S]*<!-- bench:end -->/, generated);
  await Bun.write(path, next);
  // Padded tables, so the lint passes after a bench.
  const format = Bun.spawn([resolve(repoRoot, "node_modules/.bin/biome"), "format", "--write", path], {
    cwd: repoRoot,
    stdout: "ignore",
    stderr: "inherit",
  });
  if ((await format.exited) !== 0) console.error("bench: could not format BENCHMARKS.md (biome)");
}

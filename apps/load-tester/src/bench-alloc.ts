/**
 * `bun run bench:alloc`: the allocator's purge setting in back-to-back pairs, both chains (the bare
 * three-process HTTP chain and the system, metrics on, traces off) with the same setting in each half, so
 * the ratios printed come from the same minute of a shared machine. CPU per request is every thread of
 * every process of the chain (the load generator excluded). With --wrk, the load is `wrk -c32` on the
 * system and CPU is also printed per thread (the table in BENCHMARKS.md).
 *   bun run bench:alloc [--pairs 3] [--seconds 3] [--warmup-s 5] [--wrk] [--settings=100,-1] (--help)
 */
import { resolve } from "node:path";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { onShutdown } from "@evgrid/kit/process";
import { spawnListening, startDev, stopStarted } from "@evgrid/testing";
import { z } from "zod";
import { closedLoad } from "./bench/run.ts";
import { byThreadName, type Sample, sample } from "./bench/threads.ts";

const HELP = `Usage: bun run bench:alloc [options]

The allocator's purge setting (MIMALLOC_PURGE_DELAY) in back-to-back pairs: the bare three-process HTTP
chain and the system (bun run dev, one substation, metrics on, traces off), each half with the same setting
for every process. Prints req/s, p99, CPU per request (every thread of every app) and page faults per request.

Options:
  --pairs <n>          pairs to run, the order alternating                      (default: 3)
  --seconds <s>        measured seconds per run                                 (default: 3)
  --warmup-s <s>       load before each measured run (the JIT's warm-up)         (default: 5)
  --wrk                load with \`wrk -c32\` and print CPU per thread (needs wrk)
  --settings=<a,b>     purge delays to compare, ms; -1 never purges            (default: 100,-1)
                       (write it with "=": a value starting with "-" is read as a flag otherwise)
  -h, --help           show this help

Ctrl-C, SIGTERM or its terminal closed stops every process it started and removes their data; exit 130.`;

const values = parseCommandLine({
  command: "bench:alloc",
  help: HELP,
  flags: {
    pairs: { type: "string" },
    seconds: { type: "string" },
    "warmup-s": { type: "string" },
    wrk: { type: "boolean" },
    settings: { type: "string" },
  },
  schema: z.object({
    pairs: numberFlag(1, { integer: true }).default(3),
    seconds: numberFlag(0.5).default(3),
    // Long enough that the JIT has compiled the hot path: its compiler threads are a warm-up cost.
    "warmup-s": numberFlag(0).default(5),
    wrk: z.boolean().default(false),
    // mimalloc 3's default purge delay is 100 ms (MIMALLOC_VERBOSE=1 bun -e 1 prints it); -1: never purge.
    settings: z
      .string()
      .regex(/^-?\d+(,-?\d+)*$/, "must be delays in ms separated by commas, like 100,-1")
      .default("100,-1"),
  }),
});
// Ctrl-C, SIGTERM or a closed terminal: the chains measured (bun run dev and its data directory, the bare
// hops) and wrk are stopped; exit 130.
const wrkRuns = new Set<Bun.Subprocess>();
onShutdown(
  async () => {
    for (const w of wrkRuns) w.kill("SIGKILL");
    await stopStarted();
  },
  { signalExitCode: 130, timeoutMs: 30_000, hangup: true },
);
const durationS = Number(values.seconds);
const LOAD = { concurrency: 64, durationS, warmupS: 0, sessionS: 1 };
const BUN = process.execPath;
const room = { BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" };

interface Measured {
  perS: number;
  p99Ms: number;
  cpuUsPerRequest: Record<string, number>;
  faultsPerRequest: Record<string, number>;
  threadsUsPerRequest: Record<string, Record<string, number>>;
}

/** Load on `url` after a warm-up; CPU and page faults of each named process over the measured window. */
async function measure(url: string, procs: Record<string, number>): Promise<Measured> {
  await closedLoad(url, { ...LOAD, durationS: Number(values["warmup-s"]) });
  const snap = () =>
    Promise.all(Object.entries(procs).map(async ([n, pid]) => [n, await sample(pid)] as const));
  const before = new Map(await snap());
  let requests: number;
  let perS: number;
  let p99Ms: number;
  if (values.wrk) {
    const w = await wrk(url);
    ({ requests, perS, p99Ms } = w);
  } else {
    const t = await closedLoad(url, LOAD);
    // runClosed's window: every request completed between the two samples (warm-up 0).
    requests = t.requests;
    perS = t.perS;
    p99Ms = t.latency.p99Ms;
  }
  const after = new Map(await snap());
  const out: Measured = { perS, p99Ms, cpuUsPerRequest: {}, faultsPerRequest: {}, threadsUsPerRequest: {} };
  for (const [name, pid] of Object.entries(procs)) {
    const b = before.get(name) as Sample;
    const a = after.get(name) as Sample;
    out.cpuUsPerRequest[name] = ((a.cpuMs - b.cpuMs) * 1000) / requests;
    out.faultsPerRequest[name] = (a.faults - b.faults) / requests;
    out.threadsUsPerRequest[name] = Object.fromEntries(
      Object.entries(byThreadName(pid, b, a)).map(([t, ms]) => [t, (ms * 1000) / requests]),
    );
  }
  return out;
}

/** `wrk -c32` POSTing one charge request per call, each for its own vehicle. */
async function wrk(url: string) {
  const script = resolve(import.meta.dir, "bench/charge.lua");
  const proc = Bun.spawn(
    ["wrk", "-t1", "-c32", `-d${durationS}s`, "--latency", "-s", script, `${url}/trpc/requestCharge`],
    { stdout: "pipe", stderr: "inherit" },
  );
  wrkRuns.add(proc);
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  wrkRuns.delete(proc);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const perS = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const p99Ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 }[p99[2] as "us" | "ms" | "s"] ?? 1) : 0;
  if (/Non-2xx/.test(text)) console.error(`bench:alloc: wrk saw non-2xx answers:\n${text}`);
  return { requests, perS, p99Ms };
}

async function bareChain(purge: string): Promise<Measured> {
  const hop = resolve(import.meta.dir, "bench/bare-hop.ts");
  const env = { PORT: "0", MIMALLOC_PURGE_DELAY: purge };
  const c = await spawnListening([BUN, hop], env);
  const b = await spawnListening([BUN, hop], {
    ...env,
    ...room,
    NEXT_URL: c.url,
    NEXT_PATH: "/trpc/startSession",
  });
  const a = await spawnListening([BUN, hop], {
    ...env,
    ...room,
    NEXT_URL: b.url,
    NEXT_PATH: "/trpc/dispatch",
  });
  try {
    return await measure(a.url, { first: a.pid, second: b.pid, third: c.pid });
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
}

async function system(purge: string): Promise<Measured> {
  const dev = await startDev(
    ["--random-ports", "--no-quotas", "--substations", "1", "--capacities", "1000000"],
    {
      env: { OTEL_SDK_DISABLED: "true", MIMALLOC_PURGE_DELAY: purge, LOG_LEVEL: "warn" },
      timeoutMs: 120_000,
    },
  );
  try {
    const pid = async (needle: string) => (await dev.pidsOf(needle))[0] as number;
    const procs = {
      "charge-api": await pid("apps/charge-api/"),
      balancer: await pid("apps/balancer/"),
      substation: await pid("apps/substation/"),
    };
    return await measure(dev.urls.chargeApi, procs);
  } finally {
    await dev.terminate();
    await dev[Symbol.asyncDispose]();
  }
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const settings = values.settings.split(",");
console.log(
  `bench:alloc: ${values.pairs} pairs, ${durationS} s per run, ${values.wrk ? "wrk -c32" : "closed model, 64 users"}, MIMALLOC_PURGE_DELAY in ${settings.join(" / ")}`,
);
const rows: string[] = [];
for (let i = 0; i < Number(values.pairs); i++) {
  // Alternate which setting runs first, so a drift in the machine's load does not favour one.
  const order = i % 2 === 0 ? settings : [...settings].reverse();
  for (const purge of order) {
    const bare = values.wrk ? undefined : await bareChain(purge);
    const sys = await system(purge);
    const perApp = Object.entries(sys.cpuUsPerRequest)
      .map(([n, us]) => `${n} ${us.toFixed(0)}`)
      .join(", ");
    const faults = sum(sys.faultsPerRequest).toFixed(2);
    rows.push(
      `pair ${i + 1} purge ${purge.padStart(4)}: system ${sys.perS.toFixed(0)} req/s p99 ${sys.p99Ms} ms, CPU ${sum(sys.cpuUsPerRequest).toFixed(0)} µs/req (${perApp}), ${faults} faults/req` +
        (bare
          ? `; bare ${bare.perS.toFixed(0)} req/s p99 ${bare.p99Ms} ms, CPU ${sum(bare.cpuUsPerRequest).toFixed(0)} µs/req; system/bare ${(sys.perS / bare.perS).toFixed(2)}`
          : ""),
    );
    console.log(rows.at(-1));
    if (values.wrk) {
      for (const [app, threads] of Object.entries(sys.threadsUsPerRequest)) {
        const list = Object.entries(threads)
          .filter(([, us]) => us >= 0.5)
          .sort((a, b) => b[1] - a[1])
          .map(([t, us]) => `${t} ${us.toFixed(0)}`)
          .join(", ");
        console.log(`    ${app.padEnd(10)} µs/req by thread: ${list}`);
      }
    }
  }
}

/**
 * `bun run chaos`: 2 balancer replicas over 3 substations and a redis-server, all real processes, driven with
 * requests while faults are injected at random from a seed; then the whole history is checked against the
 * substations. Exits 1 on any violation, printing the seed to replay.
 */
import { numberFlag, parseCommandLine } from "@evgrid/kit";
import { onShutdown } from "@evgrid/kit/process";
import { z } from "zod";
import { tally } from "./chaos/check.ts";
import { FAULT_KINDS, type FaultKind } from "./chaos/faults.ts";
import { runChaos } from "./chaos/run.ts";

const help = `bun run chaos [flags]

Starts a redis-server, 3 substations, 2 balancer replicas sharing the store and a charge-api (real processes,
127.0.0.1), drives requests from many vehicles (each with its own idempotency key, some sent twice) and
injects faults drawn from the seed: the store paused (kill -STOP) and resumed, flushed (FLUSHALL), restarted
empty; a replica killed (kill -9) and restarted. Uncertain answers are retried with their key once the faults
are over; then every request and answer is checked against every session the substations hold:

  no vehicle with two active sessions at once     no key with two sessions
  every 200 names a session that exists           no session made by a request refused for certain
  uncertain answers carry their key, and a retry settles them (that session, or a certain refusal)
  no answer later than its deadline (+${500} ms)

  --seed N        seed of the requests and faults (default: random, printed)
  --requests N    requests to send (default 2000)
  --duration S    longest the drive sends for, in seconds (default 60)
  --faults N      faults to inject (default 6)
  --kinds LIST    faults to draw from, comma-separated (default all):
                  pause_store, flush_store, restart_store, kill_replica
  -h, --help      this text

Ctrl-C, SIGTERM or its terminal closed (SIGHUP; not under nohup) stops the run and every process it started
(a paused store is resumed, then stopped), removes its files, and exits 130. A run killed outright (kill -9)
cannot: the next run removes the files it left.

Exits 0 when every invariant holds, 1 otherwise (with the seed to replay), 2 on a wrong flag.`;

const args = parseCommandLine({
  command: "chaos",
  help,
  flags: {
    seed: { type: "string" },
    requests: { type: "string" },
    duration: { type: "string" },
    faults: { type: "string" },
    kinds: { type: "string" },
  },
  schema: z.object({
    seed: numberFlag(0, { integer: true }).default(() => Math.floor(Math.random() * 2 ** 31)),
    requests: numberFlag(1, { integer: true }).default(2000),
    duration: numberFlag(1).default(60),
    faults: numberFlag(0, { integer: true }).default(6),
    kinds: z
      .string()
      .transform((s) => s.split(",").map((k) => k.trim()))
      .pipe(z.array(z.enum(FAULT_KINDS as [FaultKind, ...FaultKind[]])).min(1))
      .default([...FAULT_KINDS]),
  }),
});

console.log(
  `chaos: seed ${args.seed}, ${args.requests} requests, at most ${args.duration} s, ${args.faults} faults`,
);
// The balancer replicas share a real redis-server: without one, say so in a line, not a stack trace.
if (!Bun.which("redis-server")) {
  console.error(
    "chaos: redis-server is not installed (the balancer replicas share it): apt-get install -y redis-server",
  );
  process.exit(1);
}
const interrupt = new AbortController();
const run = runChaos({
  seed: args.seed,
  requests: args.requests,
  durationS: args.duration,
  faults: args.faults,
  kinds: args.kinds,
  log: (line) => console.log(`  ${line}`),
  signal: interrupt.signal,
});
// Ctrl-C, SIGTERM or a closed terminal (SIGHUP): the run stops its grid (a paused store resumed first, then
// stopped; its journals removed), then exits 130; a second Ctrl-C a while later exits at once (the store's
// watchdog and the apps' parent watch still stop them).
onShutdown(
  async () => {
    console.error("chaos: interrupted; stopping every process of the run");
    interrupt.abort(new Error("interrupted"));
    await run.catch(() => {});
  },
  { signalExitCode: 130, timeoutMs: 30_000, hangup: true },
);
// Interrupted, the shutdown above ends the process once the grid is down: nothing more to print.
const report = await run.catch((err) =>
  interrupt.signal.aborted ? new Promise<never>(() => {}) : Promise.reject(err),
);
const c = report.counts;
console.log(
  `requests    ${c.requests} answered: ${c.ok} with a session, ${c.uncertain} uncertain, ${c.hung} hung`,
);
console.log(`refused     ${JSON.stringify(c.refused)}`);
console.log(`settled     ${c.settledWithSession} with their session, ${c.settledNone} with a certain none`);
console.log(`sessions    ${c.sessions}; latest answer ${Math.round(c.maxOvershootMs)} ms after its deadline`);
if (report.violations.length === 0) {
  console.log(`every invariant holds (seed ${report.seed})`);
  process.exit(0);
}
console.log(`VIOLATIONS  ${JSON.stringify(tally(report.violations))}`);
for (const v of report.violations) if (v.detail) console.log(`  ${v.invariant}: ${v.detail}`);
console.log(
  `replay: bun run chaos --seed ${report.seed} --requests ${args.requests} --duration ${args.duration} --faults ${args.faults} --kinds ${args.kinds.join(",")}`,
);
process.exit(1);

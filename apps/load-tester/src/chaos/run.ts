import { type CheckCounts, checkHistory, type RequestRecord, type Violation } from "./check.ts";
import { drive, settle } from "./drive.ts";
import { type Fault, type FaultKind, planFaults, Rng, runFaults } from "./faults.ts";
import { type ChaosGrid, startChaosGrid } from "./grid.ts";

export interface ChaosOptions {
  seed: number;
  requests: number;
  /** The longest the drive may send for; the whole run also settles, then checks. */
  durationS: number;
  faults: number;
  /** Which faults may be drawn (default: all); or an exact plan, which overrides `faults`. */
  kinds?: readonly FaultKind[];
  plan?: readonly Fault[];
  concurrency?: number;
  vehicles?: number;
  budgetMs?: number;
  /** Told what happens as it happens (the command prints it). */
  log?: (line: string) => void;
  /** Ctrl-C: the run stops at once, its grid with it (a paused store resumed, then stopped), and it rejects. */
  signal?: AbortSignal;
}

export interface ChaosReport {
  seed: number;
  faults: { fault: Fault; ranAtMs: number }[];
  counts: CheckCounts;
  violations: Violation[];
  records: RequestRecord[];
}

/** How late after its deadline an answer may come: the reply's way back on a busy 2-core host. */
const SLACK_MS = 500;

/**
 * One chaos run: the grid up, the drive with faults injected from the seed, the store and every replica back,
 * every uncertain answer settled with its key, then the whole history checked against the substations.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  await using grid = await startChaosGrid({ substations: 3, replicas: 2, capacityKw: 100 });
  opts.signal?.throwIfAborted();
  // Interrupted, the run is left where it is and the grid goes (`await using`), whatever a fault was doing.
  return await Promise.race([runOn(grid, opts), interruption(opts.signal)]);
}

async function runOn(grid: ChaosGrid, opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const rng = new Rng(opts.seed);
  const durationMs = opts.durationS * 1000;
  const plan = opts.plan ?? planFaults(rng, opts.faults, durationMs, 2, opts.kinds);
  log(`grid up: charge-api ${grid.apiUrl}, 2 replicas, 3 substations, redis on ${grid.redis.port}`);
  const startMs = Date.now();
  let driving = true;
  const faults = runFaults(grid, plan, startMs, () => !driving);
  // A fault that fails is reported where it is awaited, after the drive: not as an unhandled rejection.
  faults.catch(() => {});
  const records = await drive(
    {
      apiUrl: grid.apiUrl,
      seed: opts.seed,
      requests: opts.requests,
      durationMs,
      concurrency: opts.concurrency ?? 200,
      vehicles: opts.vehicles ?? Math.max(20, Math.round(opts.requests / 4)),
      budgetMs: opts.budgetMs ?? 1500,
      hangGraceMs: 5000,
    },
    rng,
  );
  driving = false;
  const ran = await faults;
  for (const r of ran) log(`fault at ${r.ranAtMs} ms: ${describe(r.fault)}`);
  log(`drive done: ${records.length} answers in ${Date.now() - startMs} ms; settling the uncertain ones`);
  // Whatever the last fault left, the store must be up and shared again before the retries settle anything.
  grid.redis.resume();
  await grid.redis.start();
  const backBy = Date.now() + 20_000;
  while (!(await grid.allSharing()) && Date.now() < backBy) await Bun.sleep(200);
  await settle(grid.apiUrl, records, 10, 1000);
  const sessions = await grid.sessions();
  const { violations, counts } = checkHistory(records, sessions, { slackMs: SLACK_MS });
  return { seed: opts.seed, faults: ran, counts, violations, records };
}

/** Rejects once `signal` fires; never without one. */
function interruption(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) =>
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true }),
  );
}

export function describe(f: Fault): string {
  switch (f.kind) {
    case "pause_store":
      return `store paused for ${f.forMs} ms (kill -STOP, then -CONT)`;
    case "flush_store":
      return "store flushed (FLUSHALL)";
    case "restart_store":
      return "store restarted empty (kill -9, started again)";
    case "kill_replica":
      return `replica ${f.replica} killed (kill -9), restarted after ${Math.min(f.forMs, 2000)} ms`;
  }
}

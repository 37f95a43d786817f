/**
 * What one group commit of the journal costs in CPU, on disk against in memory, in this process (no station,
 * no HTTP): each commit appends GROUP starts and GROUP ends (64 sessions active), as a busy substation's turn
 * of the event loop does, plus a checkpoint row every 500 commits. Alternates disk and memory PAIRS times, so
 * the ratio is measured in one run. Under `strace -c -f` it counts the system calls per commit as well.
 *
 *   bun apps/substation/scripts/commit-cost.ts
 *   GROUP=1 COMMITS=20000 SUBSTATION_SYNC=full bun apps/substation/scripts/commit-cost.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EndRecord, Journal, type JournalSync, type StartRecord } from "../src/journal.ts";

const group = Number(process.env.GROUP ?? 2);
const commits = Number(process.env.COMMITS ?? 40_000);
const pairs = Number(process.env.PAIRS ?? 3);
const sync = (process.env.SUBSTATION_SYNC ?? "normal") as JournalSync;

/** CPU µs per commit (user and system) after a warm-up of a tenth of the commits. */
function run(path: string): { cpu: number; sys: number } {
  const journal = new Journal(path, { sync });
  const live: string[] = [];
  let n = 0;
  const commit = () => {
    const starts: StartRecord[] = [];
    const ends: EndRecord[] = [];
    for (let k = 0; k < group; k++) {
      const sessionId = Bun.randomUUIDv7();
      n += 1;
      starts.push({
        sessionId,
        vehicleId: `v-${n % 5000}`,
        minKw: 1.4,
        maxKw: 11,
        startedAtMs: Date.now(),
        durationS: 1,
        energyKwh: null,
        idempotencyKey: `key-${n}`,
        owner: "owner-1",
        priority: "standard",
        departAtMs: null,
      });
      live.push(sessionId);
    }
    while (live.length > 64)
      ends.push({
        sessionId: live.shift() as string,
        deliveredKwh: 0.001,
        endedAtMs: Date.now(),
        endReason: "time_elapsed",
      });
    journal.commit({ starts, ends, checkpoint: [] });
  };
  for (let i = 0; i < commits / 10; i++) commit();
  const before = process.cpuUsage();
  for (let i = 0; i < commits; i++) {
    commit();
    if (i % 500 === 0)
      journal.commit({
        starts: [],
        ends: [],
        checkpoint: live.map((id) => ({ sessionId: id, deliveredKwh: 0.0005 })),
      });
  }
  const used = process.cpuUsage(before);
  journal.close();
  return { cpu: (used.user + used.system) / commits, sys: used.system / commits };
}

console.log(
  `${commits} commits of ${group} starts and ${group} ends, sync ${sync}; CPU µs per commit (system)`,
);
for (let p = 0; p < pairs; p++) {
  const dir = mkdtempSync(join(tmpdir(), "commit-cost-"));
  try {
    const disk = run(join(dir, "journal.sqlite"));
    const memory = run(":memory:");
    const f = (x: { cpu: number; sys: number }) => `${x.cpu.toFixed(1)} (${x.sys.toFixed(1)})`;
    console.log(`disk ${f(disk)}  memory ${f(memory)}  disk - memory ${(disk.cpu - memory.cpu).toFixed(1)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

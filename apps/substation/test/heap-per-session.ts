/**
 * Run by memory-per-session.test.ts in a process of its own (heap figures in a shared test process depend on
 * what ran before): what a station holds per ended session it keeps in memory, as the soak drives it, with
 * one owner (`--owners 1`) or an owner per request (open mode's `addr:<ip>`). Prints JSON.
 */
import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dispatchRequestSchema } from "@evgrid/contract";
import { Journal } from "../src/journal.ts";
import { soakStation } from "./soak-station.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { owners: { type: "string", default: "1" } },
});
const owners = Number(values.owners);
const dir = mkdtempSync(join(tmpdir(), "evgrid-heap-"));
const journal = new Journal(join(dir, "substation.sqlite"));
const clock = { ms: 1_700_000_000_000 };
const s = soakStation(journal, clock);
// As the soak's requests arrive: parsed from JSON (fresh strings each), a key each, ended after it.
const one = async (i: number) => {
  const n = i % owners;
  const owner = owners === 1 ? "addr:127.0.0.1" : `addr:10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`;
  const body = { vehicleId: `soak-${i}`, owner, idempotencyKey: `auto:${crypto.randomUUID()}` };
  const r = dispatchRequestSchema.parse(JSON.parse(JSON.stringify({ ...body, maxKw: 11, durationS: 1 })));
  s.stop((await s.start(r)).session.sessionId);
  clock.ms += 5;
};
for (let i = 0; i < 10; i++) await one(i);
Bun.gc(true);
const before = heapStats();
for (let i = 10; i < 10_010; i++) await one(i);
Bun.gc(true);
const after = heapStats();
console.log(
  JSON.stringify({
    owners,
    cellsPerSession: (after.objectCount - before.objectCount) / 10_000,
    bytesPerSession: (after.heapSize - before.heapSize) / 10_000,
  }),
);
s.close();
journal.close();
rmSync(dir, { recursive: true, force: true });

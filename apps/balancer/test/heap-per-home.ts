/**
 * Run by memory.test.ts in a process of its own (heap figures in a shared test process depend on what ran
 * before): what MemoryStore holds per home, as `bun run soak:chain` drives it (200 vehicles a second, each
 * with a key, held a minute). Prints JSON.
 */
import { heapStats } from "bun:jsc";
import { dispatchRequestSchema, type Session } from "@evgrid/contract";
import { MemoryStore } from "../src/memory.ts";

let nowMs = 1_700_000_000_000;
const memory = new MemoryStore(60_000, 200_000, () => nowMs, 60_000);
const add = (i: number) => {
  const r = dispatchRequestSchema.parse({
    vehicleId: `ev-${i}`,
    owner: "addr:203.0.113.1",
    idempotencyKey: `auto:${crypto.randomUUID()}`,
  });
  const session = {
    substationId: "substation-1",
    status: "active",
    expectedEndAt: new Date(nowMs + 1000).toISOString(),
  };
  memory.remember(r, session as Session);
  nowMs += 5;
};
add(0); // the store's own structures exist before the baseline
Bun.gc(true);
const before = heapStats();
for (let i = 1; i < 3 * 12_000; i++) add(i);
Bun.gc(true);
const after = heapStats();
const homes = memory.size;
console.log(
  JSON.stringify({
    homes,
    cellsPerHome: (after.objectCount - before.objectCount) / homes,
    bytesPerHome: (after.heapSize - before.heapSize) / homes,
  }),
);

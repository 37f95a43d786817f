/**
 * What a station holds per ended session it keeps in memory (the last `endedRetention`, 10,000 by default:
 * 50 s of `bun run soak:chain`'s 200 a second), measured in JavaScriptCore heap cells and bytes.
 */

import { heapStats } from "bun:jsc";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { open, tempDir } from "./fixtures.ts";

function station(clock: { ms: number }) {
  const journal = new Journal(join(tempDir("evgrid-mem-"), "substation.sqlite"));
  const s = new Station({
    id: "substation-1",
    capacityKw: 1_000_000,
    journal,
    endedRetention: 10_000,
    idempotencyTtlMs: 60_000,
    now: () => clock.ms,
  });
  open.push(s, journal);
  return s;
}

test("an ended session held in memory reads back exactly as it ended: timed, by energy, with a departure", async () => {
  const clock = { ms: Date.now() + 123 }; // departures are checked against the wall clock
  const s = station(clock);
  const parse = (o: Record<string, unknown>) =>
    dispatchRequestSchema.parse({ owner: "addr:127.0.0.1", ...o });
  const departAt = new Date(clock.ms + 3_600_000).toISOString();
  const started = [
    await s.start(parse({ vehicleId: "timed", durationS: 60, idempotencyKey: "k-1" })),
    await s.start(parse({ vehicleId: "energy", energyKwh: 5, maxKw: 22 })),
    await s.start(parse({ vehicleId: "leaving", energyKwh: 20, maxKw: 22, departAt, priority: "fleet" })),
  ];
  clock.ms += 1_234;
  const ended = started.map((r) => s.stop(r.session.sessionId).session);
  expect(ended.map((e) => e.status)).toEqual(["ended", "ended", "ended"]);
  for (const e of ended) expect(s.get(e.sessionId)).toStrictEqual(e);
  expect(s.list("ended", 10)).toStrictEqual(ended);
});

test("an ended session's idempotency key is held as sent, not joined to its owner in a second string", async () => {
  const clock = { ms: 1_700_000_000_000 };
  const s = station(clock);
  // As the soak's requests arrive: parsed from JSON (fresh strings each), a key each, ended after it.
  const one = async (i: number) => {
    const body = {
      vehicleId: `soak-${i}`,
      owner: "addr:127.0.0.1",
      idempotencyKey: `auto:${crypto.randomUUID()}`,
    };
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
  const cells = (after.objectCount - before.objectCount) / 10_000;
  const bytes = (after.heapSize - before.heapSize) / 10_000;
  console.log(`per ended session held: ${cells.toFixed(2)} heap cells, ${Math.round(bytes)} bytes`);
  // Its record (1 object; its ids, key and owner as sent). Before: the wire form kept whole (its times as ISO
  // strings), and the key joined to its owner in one more string: 8.25 cells, ~750 bytes.
  expect(cells).toBeLessThan(5);
  expect(bytes).toBeLessThan(620);
});

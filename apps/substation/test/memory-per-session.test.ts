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

test("an ended session's idempotency key is held as sent, not joined to its owner in a second string", async () => {
  const clock = { ms: 1_700_000_000_000 };
  const journal = new Journal(join(tempDir("evgrid-mem-"), "substation.sqlite"));
  const station = new Station({
    id: "substation-1",
    capacityKw: 1_000_000,
    journal,
    endedRetention: 10_000,
    idempotencyTtlMs: 60_000,
    now: () => clock.ms,
  });
  open.push(station, journal);
  // As the soak's requests arrive: parsed from JSON (fresh strings each), a key each, ended after it.
  const one = async (i: number) => {
    const body = {
      vehicleId: `soak-${i}`,
      owner: "addr:127.0.0.1",
      idempotencyKey: `auto:${crypto.randomUUID()}`,
    };
    const r = dispatchRequestSchema.parse(JSON.parse(JSON.stringify({ ...body, maxKw: 11, durationS: 1 })));
    station.stop((await station.start(r)).session.sessionId);
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
  // The session (1 object, ~6 strings); before, the key joined to its owner was one string (~90 bytes) more.
  expect(cells).toBeLessThan(7.7);
  expect(bytes).toBeLessThan(710);
});

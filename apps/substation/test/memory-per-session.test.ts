/**
 * What a station holds per ended session it keeps in memory (the last `endedRetention`, 10,000 by default:
 * 50 s of `bun run soak:chain`'s 200 a second), measured in JavaScriptCore heap cells and bytes.
 */

import { expect, test } from "bun:test";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { IdempotencyKeys } from "../src/idempotency.ts";
import { Journal } from "../src/journal.ts";
import { sessionOf } from "../src/journal-rows.ts";
import { SessionBook } from "../src/sessions.ts";
import { open, tempDir } from "./fixtures.ts";
import { soakStation } from "./soak-station.ts";

function station(clock: { ms: number }) {
  const journal = new Journal(join(tempDir("evgrid-mem-"), "substation.sqlite"));
  const s = soakStation(journal, clock);
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

test("an ended session held costs one record and its own strings, with one owner or one per request", () => {
  // Measured in a process of its own: heap figures in a shared test process depend on what ran before.
  for (const owners of [1, 10_000]) {
    const run = Bun.spawnSync([
      process.execPath,
      join(import.meta.dir, "heap-per-session.ts"),
      "--owners",
      `${owners}`,
    ]);
    expect({ exitCode: run.exitCode, stderr: run.stderr.toString() }).toEqual({ exitCode: 0, stderr: "" });
    const m = JSON.parse(run.stdout.toString()) as { cellsPerSession: number; bytesPerSession: number };
    console.log(
      `${owners} owner(s): ${m.cellsPerSession.toFixed(2)} heap cells, ${Math.round(m.bytesPerSession)} bytes per ended session held`,
    );
    // Its record (1 object; its ids and key as sent; with an owner per request, that owner's string one more
    // cell) and a map slot. Before: the wire form kept whole (its times as ISO strings) and the key joined to
    // its owner in one more string (8.25 cells, ~750 bytes); keys in a map per owner, 7.25 cells and ~840
    // bytes with an owner per request.
    expect(m.cellsPerSession).toBeLessThan(owners === 1 ? 5 : 6);
    expect(m.bytesPerSession).toBeLessThan(620);
  }
});

test("an ended session from an old journal, without an end time, reads back without one", () => {
  const book: SessionBook = new SessionBook(
    "s",
    new IdempotencyKeys("s", 1000, undefined, (id) => book.ownerOf(id)),
    10,
  );
  const row = {
    sessionId: "s.1",
    vehicleId: "v",
    minKw: 4.2,
    maxKw: 11,
    startedAtMs: 1e12,
    durationS: 60,
    energyKwh: null,
    deliveredKwh: 0,
    status: "ended" as const,
    endedAtMs: null,
    endReason: "stopped" as const,
    idempotencyKey: null,
    owner: "operator",
    priority: "standard" as const,
    departAtMs: null,
    movedToSubstationId: null,
  };
  const ended = sessionOf(row, "s");
  book.rememberEnded(ended);
  expect(book.endedSession("s.1")).toStrictEqual(ended);
});

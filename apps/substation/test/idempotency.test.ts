import { describe, expect, spyOn, test } from "bun:test";
import { join } from "node:path";
import { dispatchRequestSchema } from "@evgrid/contract";
import { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";
import { open, tempDir } from "./fixtures.ts";

const HOUR_MS = 3_600_000;

/** A station that keeps only 2 ended sessions in memory, on a journal, with a clock the test moves. */
function boot(clock: { ms: number }, endedRetention = 2) {
  const dir = tempDir("evgrid-keys-");
  const journal = new Journal(join(dir, "substation.sqlite"));
  const station = new Station({
    id: "sub-a",
    capacityKw: 1000,
    journal,
    endedRetention,
    idempotencyTtlMs: 24 * HOUR_MS,
    now: () => clock.ms,
  });
  open.push(station, journal);
  return station;
}
const ALICE = "key:00000000000000a1";
const BOB = "key:00000000000000b2";
const req = (o: Record<string, unknown>) =>
  dispatchRequestSchema.parse({ vehicleId: "ev", owner: ALICE, durationS: 60, ...o });

/** Ends `n` other sessions, pushing older ended ones out of the station's memory. */
async function churn(station: Station, n: number) {
  for (let i = 0; i < n; i++)
    station.stop((await station.start(req({ vehicleId: `other-${i}` }))).session.sessionId);
}

describe("idempotency keys beyond memory (issue 8, point 6)", () => {
  test("a key whose session fell out of memory still replays that session, for its owner only", async () => {
    const clock = { ms: 1_000_000 };
    const station = boot(clock);
    const first = (await station.start(req({ idempotencyKey: "order-1001" }))).session;
    station.stop(first.sessionId);
    await churn(station, 5);
    expect(station.list("ended", 100).map((s) => s.sessionId)).not.toContain(first.sessionId);

    clock.ms += 23 * HOUR_MS;
    const retry = await station.start(req({ idempotencyKey: "order-1001" }));
    expect(retry).toMatchObject({ replayed: true, session: { sessionId: first.sessionId, status: "ended" } });
    // The replayed session can be read back, from the journal.
    expect(station.get(first.sessionId, ALICE)).toMatchObject({ status: "ended", endReason: "stopped" });
    expect(station.load().activeSessions).toBe(0);

    // Bob's identical key is his own: it starts his session, and never sees Alice's.
    const bobs = await station.start(req({ idempotencyKey: "order-1001", owner: BOB }));
    expect(bobs.replayed).toBe(false);
    expect(bobs.session.sessionId).not.toBe(first.sessionId);
    expect(() => station.get(first.sessionId, BOB)).toThrow(
      expect.objectContaining({ reason: "SESSION_NOT_FOUND" }),
    );
  });

  test("after its time to live a key starts a new session, from memory and from the journal alike", async () => {
    const clock = { ms: 5_000_000 };
    const station = boot(clock);
    const inJournal = (await station.start(req({ vehicleId: "a", idempotencyKey: "k-journal" }))).session;
    station.stop(inJournal.sessionId);
    await churn(station, 5);
    const inMemory = (await station.start(req({ vehicleId: "b", idempotencyKey: "k-memory" }))).session;
    station.stop(inMemory.sessionId);

    clock.ms += 24 * HOUR_MS + 1;
    for (const [vehicleId, key, old] of [
      ["a", "k-journal", inJournal],
      ["b", "k-memory", inMemory],
    ] as const) {
      const again = await station.start(req({ vehicleId, idempotencyKey: key }));
      expect(again.replayed).toBe(false);
      expect(again.session.sessionId).not.toBe(old.sessionId);
      // And from now on the key means the new session.
      expect((await station.start(req({ vehicleId, idempotencyKey: key }))).session.sessionId).toBe(
        again.session.sessionId,
      );
    }
  });

  test("an active session's key is honoured however long it runs", async () => {
    const clock = { ms: 9_000_000 };
    const station = boot(clock);
    const long = (await station.start(req({ idempotencyKey: "k-long", durationS: 86_400 }))).session;
    clock.ms += 25 * HOUR_MS; // its end timer runs on the real clock: still active here
    expect(await station.start(req({ idempotencyKey: "k-long", durationS: 86_400 }))).toMatchObject({
      replayed: true,
      session: { sessionId: long.sessionId, status: "active" },
    });
  });

  test("a key replayed from the journal still refuses another vehicle", async () => {
    const clock = { ms: 1_000_000 };
    const station = boot(clock);
    const first = (await station.start(req({ idempotencyKey: "order-7" }))).session;
    station.stop(first.sessionId);
    await churn(station, 5);
    await expect(
      station.start(req({ vehicleId: "someone-else", idempotencyKey: "order-7" })),
    ).rejects.toThrow(expect.objectContaining({ code: "CONFLICT", reason: "IDEMPOTENCY_KEY_REUSED" }));
  });

  test("a key its sender made for the request (newKey) is looked for in memory, never in the journal", async () => {
    const clock = { ms: 1_000_000 };
    const station = boot(clock);
    const lookups = spyOn(Journal.prototype, "findByKey");
    try {
      const fresh = { idempotencyKey: "auto:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", newKey: true };
      const first = (await station.start(req(fresh))).session;
      expect(lookups).not.toHaveBeenCalled();
      // Said new again while its session is held (a sender that broke its word): memory still replays it.
      expect(await station.start(req(fresh))).toMatchObject({
        replayed: true,
        session: { sessionId: first.sessionId },
      });
      expect(lookups).not.toHaveBeenCalled();
      // Once memory has let it go, a retry (never new) finds it in the journal: the key was journaled.
      station.stop(first.sessionId);
      await churn(station, 5);
      const retry = await station.start(req({ idempotencyKey: fresh.idempotencyKey }));
      expect(retry).toMatchObject({ replayed: true, session: { sessionId: first.sessionId } });
      expect(lookups).toHaveBeenCalled();
    } finally {
      lookups.mockRestore();
    }
  });
});

test("two owners' same key at once: each replays their own session, from memory alone", async () => {
  const clock = { ms: 9_000_000 };
  // No journal: what the station holds in memory must tell the two apart by itself.
  const station = new Station({ id: "sub-m", capacityKw: 1000, endedRetention: 3, now: () => clock.ms });
  open.push(station);
  const alices = (await station.start(req({ vehicleId: "a", idempotencyKey: "order-7" }))).session;
  const bobs = (await station.start(req({ vehicleId: "b", idempotencyKey: "order-7", owner: BOB }))).session;
  expect(bobs.sessionId).not.toBe(alices.sessionId);
  const replayOf = async (owner: string, vehicleId: string) =>
    (await station.start(req({ vehicleId, idempotencyKey: "order-7", owner }))).session.sessionId;
  expect(await replayOf(ALICE, "a")).toBe(alices.sessionId);
  expect(await replayOf(BOB, "b")).toBe(bobs.sessionId);
  // Both end, and are still held: both still replay.
  station.stop(alices.sessionId);
  station.stop(bobs.sessionId);
  expect(await replayOf(BOB, "b")).toBe(bobs.sessionId);
  expect(await replayOf(ALICE, "a")).toBe(alices.sessionId);
  // Alice's falls out of memory first (it ended first): Bob's key still finds his own.
  for (let i = 0; i < 2; i++)
    station.stop((await station.start(req({ vehicleId: `other-${i}` }))).session.sessionId);
  expect(station.list("ended", 10).map((e) => e.sessionId)).toEqual(
    expect.not.arrayContaining([alices.sessionId]),
  );
  expect(await replayOf(BOB, "b")).toBe(bobs.sessionId);
});

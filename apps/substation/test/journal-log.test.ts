import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Journal, type SessionRecord, type StartRecord } from "../src/journal.ts";
import { dbPath, open } from "./fixtures.ts";

/** One step of a history, its numbers picked by fast-check and read against the sessions active then. */
type Step =
  | { kind: "group"; starts: number; ends: number[]; endOwn: boolean; checkpoint: number[]; kwh: number }
  | { kind: "needs"; pick: number; energyKwh: number; depart: boolean }
  | { kind: "compact"; limit: number }
  | { kind: "prune"; limit: number }
  | { kind: "reopen" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("group" as const),
      starts: fc.integer({ min: 0, max: 4 }),
      ends: fc.array(fc.nat(50), { maxLength: 3 }),
      endOwn: fc.boolean(),
      checkpoint: fc.array(fc.nat(50), { maxLength: 4 }),
      kwh: fc.double({ min: 0, max: 80, noNaN: true }),
    }),
  },
  fc.record({
    kind: fc.constant("needs" as const),
    pick: fc.nat(50),
    energyKwh: fc.double({ min: 0.5, max: 80, noNaN: true }),
    depart: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("compact" as const), limit: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("prune" as const), limit: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant("reopen" as const) }),
);

/**
 * Runs `steps` on a journal and, beside it, on a plain model of what it must hold: the active sessions and
 * each ended session as it ended. After every reopen (a crash: nothing but the file survives) and at the end,
 * the replayed journal must hold exactly the model's active sessions, and the live journal too.
 */
function runHistory(steps: Step[]) {
  const path = dbPath("evgrid-log-");
  let journal = new Journal(path);
  const live = new Map<string, SessionRecord>();
  const ended = new Map<string, SessionRecord>();
  let clockMs = 1_000_000;
  let n = 0;
  const pick = (i: number) => [...live.keys()][i % Math.max(1, live.size)];
  const check = (j: Journal) => {
    // Every session starts 1 ms after the one before: the start order is the answer's order.
    expect(j.active()).toEqual([...live.values()].sort((a, b) => a.startedAtMs - b.startedAtMs));
    for (const [id, rec] of ended) {
      const found = j.find(id);
      if (found !== null) expect(found).toEqual(rec); // pruned, or as it ended
    }
  };
  try {
    for (const step of steps) {
      clockMs += 1000;
      if (step.kind === "group") {
        const ends = step.ends.map(pick).filter((id): id is string => id !== undefined);
        const starts: StartRecord[] = Array.from({ length: step.starts }, () => {
          n += 1;
          clockMs += 1;
          return {
            sessionId: `s-${n}`,
            vehicleId: `ev-${n}`,
            minKw: 1,
            maxKw: 11,
            startedAtMs: clockMs,
            durationS: n % 2 === 0 ? 3600 : null,
            energyKwh: n % 2 === 0 ? null : 40,
            idempotencyKey: n % 3 === 0 ? `k-${n}` : null,
            owner: "operator",
            priority: "standard",
            departAtMs: null,
          };
        });
        // A session that ends before its own admission's commit (a stalled process) is in the same group.
        if (step.endOwn && starts[0]) ends.push(starts[0].sessionId);
        const endRecords = [...new Set(ends)].map((sessionId, i) => ({
          sessionId,
          deliveredKwh: step.kwh + i,
          endedAtMs: clockMs,
          endReason: "stopped" as const,
        }));
        const checkpointIds = step.checkpoint.map(pick).filter((id): id is string => id !== undefined);
        // Every other one metered (a charger's meter reported for it): its reading is what it drew.
        const checkpoint = [...new Set(checkpointIds)].map((sessionId, i) => ({
          sessionId,
          deliveredKwh: step.kwh / (i + 2),
          ...(i % 2 === 1 ? { meteredKwh: step.kwh / (i + 2) } : {}),
        }));
        journal.commit({ ends: endRecords, starts, checkpoint });
        for (const s of starts)
          live.set(s.sessionId, {
            ...s,
            deliveredKwh: 0,
            status: "active",
            endedAtMs: null,
            endReason: null,
            movedToSubstationId: null,
            meteredKwh: null,
          });
        for (const e of endRecords) {
          const rec = live.get(e.sessionId);
          if (!rec) continue;
          live.delete(e.sessionId);
          ended.set(e.sessionId, { ...rec, ...e, status: "ended", meteredKwh: null });
        }
        for (const c of checkpoint) {
          const rec = live.get(c.sessionId);
          if (rec) live.set(c.sessionId, { ...rec, ...c, meteredKwh: c.meteredKwh ?? null });
        }
      } else if (step.kind === "needs") {
        const id = pick(step.pick);
        const rec = id === undefined ? undefined : live.get(id);
        if (!id || !rec) continue;
        const departAtMs = step.depart ? clockMs + 3_600_000 : null;
        journal.setNeeds({ sessionId: id, energyKwh: step.energyKwh, departAtMs });
        live.set(id, { ...rec, energyKwh: step.energyKwh, durationS: null, departAtMs });
      } else if (step.kind === "compact") {
        journal.compact(clockMs, clockMs, step.limit);
      } else if (step.kind === "prune") {
        journal.prune(clockMs, step.limit, Number.POSITIVE_INFINITY);
      } else {
        journal.close();
        journal = new Journal(path);
        check(journal);
      }
    }
    check(journal);
    const replayed = new Journal(path);
    try {
      check(replayed);
    } finally {
      replayed.close();
    }
  } finally {
    journal.close();
  }
}

describe("the journal's log", () => {
  test("replay: over any history of starts, ends, checkpoints, needs, compaction and pruning, the recovered sessions are the live ones", () => {
    // fast-check prints the seed and the shrunk history of a failure; FC_SEED replays one.
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), (steps) => runHistory(steps)),
      { numRuns: Number(process.env.FC_RUNS ?? 30), ...(seed === undefined ? {} : { seed }) },
    );
  }, 120_000);

  test("replay begins at the last checkpoint: sessions that ended before it are not read again", () => {
    const path = dbPath();
    const journal = new Journal(path);
    open.push(journal);
    const start = (i: number): StartRecord => ({
      sessionId: `s-${i}`,
      vehicleId: `ev-${i}`,
      minKw: 1,
      maxKw: 11,
      startedAtMs: 1000 + i,
      durationS: 600,
      energyKwh: null,
      idempotencyKey: null,
      owner: "operator",
      priority: "standard",
      departAtMs: null,
    });
    const end = (i: number) => ({
      sessionId: `s-${i}`,
      deliveredKwh: 1,
      endedAtMs: 2000 + i,
      endReason: "stopped" as const,
    });
    journal.commit({ ends: [], starts: Array.from({ length: 100 }, (_, i) => start(i)), checkpoint: [] });
    journal.commit({ ends: Array.from({ length: 99 }, (_, i) => end(i)), starts: [], checkpoint: [] });
    journal.commit({ ends: [], starts: [], checkpoint: [], mark: true });
    const db = new (require("bun:sqlite").Database)(path, { readonly: true });
    open.push(db);
    const last = db.query("SELECT seq, from_seq FROM events WHERE kind = 'checkpoint'").all();
    // One checkpoint row; replay reads from the start of s-99, the only session still active.
    expect(last).toEqual([{ seq: 200, from_seq: 100 }]);
    expect(new Journal(path).active().map((r) => r.sessionId)).toEqual(["s-99"]);
  });

  test("a car whose needs change at every message holds one needs row, and a restart finds the last ones", () => {
    const path = dbPath();
    let journal = new Journal(path);
    open.push(journal);
    const session: StartRecord = {
      sessionId: "s-1",
      vehicleId: "ev-1",
      minKw: 1,
      maxKw: 11,
      startedAtMs: 1000,
      durationS: 3600,
      energyKwh: null,
      idempotencyKey: null,
      owner: "operator",
      priority: "standard",
      departAtMs: null,
    };
    journal.commit({ ends: [], starts: [session], checkpoint: [] });
    for (let i = 1; i <= 50; i++)
      journal.setNeeds({ sessionId: "s-1", energyKwh: i, departAtMs: i % 2 === 0 ? 9000 + i : null });
    journal.close();
    const db = new (require("bun:sqlite").Database)(path, { readonly: true });
    open.push(db);
    expect(db.query("SELECT count(*) AS n FROM events WHERE kind = 'needs'").get()).toEqual({ n: 1 });
    journal = new Journal(path);
    open.push(journal);
    expect(journal.active()).toEqual([
      expect.objectContaining({ sessionId: "s-1", energyKwh: 50, durationS: null, departAtMs: 9050 }),
    ]);
    // After the restart the next needs replace the last ones too.
    journal.setNeeds({ sessionId: "s-1", energyKwh: 60, departAtMs: null });
    expect(db.query("SELECT count(*) AS n FROM events WHERE kind = 'needs'").get()).toEqual({ n: 1 });
  });
});

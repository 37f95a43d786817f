import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Journal } from "@evgrid/substation/journal";
import { diskHog } from "@evgrid/substation/test/disk-hog";
import { eventually, metricValue, spawnApp, tempDir } from "@evgrid/testing";

const TOKEN = "substation-process-test-token-0123";

const CAP_MB = 0.2;
const SHORT_S = 2;
/** The journal's checkpoint (and retry) interval for this test: a full disk is seen to last several of them. */
const CHECKPOINT_MS = 500;

type Sub = Awaited<ReturnType<typeof spawnApp>>;
const spawnSubstation = (env: Record<string, string>) =>
  spawnApp("substation", { SERVICE_TOKEN: TOKEN, ...env });
const query = (sub: Sub, procedure: string, input: unknown) =>
  sub.call(`${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`);
const reasonOf = (answer: { json: { error?: { data?: { reason?: string } } } }) =>
  answer.json.error?.data?.reason;
const pending = async (sub: Sub) =>
  metricValue(await sub.metrics(), "evgrid_substation_journal_pending_writes") ?? -1;

/** Failed journal writes of every kind: each retry (checkpoint, retention round) on the full disk counts. */
const endErrors = async (sub: Sub) =>
  (await sub.metrics())
    .split("\n")
    .filter((l) => l.startsWith("evgrid_substation_journal_errors_total{"))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

/**
 * Until `checkpoints` more retries have failed on the full disk (what waits is retried at each checkpoint
 * and retention round), the substation must answer every call, and not exit: later events, not a pause.
 */
async function answersThroughout(sub: Sub, checkpoints: number) {
  const before = await endErrors(sub);
  await eventually(
    async () => {
      expect((await sub.call("getLoad")).status).toBe(200);
      expect(sub.proc.exitCode).toBeNull();
      expect(await endErrors(sub)).toBeGreaterThanOrEqual(before + checkpoints);
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  expect(sub.proc.exitCode).toBeNull();
}

describe("a substation on a full disk (issue 8, point 3)", () => {
  test("refuses new work with 503, runs and ends its sessions, never exits, and catches up once there is room", async () => {
    using dir = tempDir("evgrid-full-disk-");
    const path = join(dir.path, "substation.sqlite");
    const env = {
      SUBSTATION_DB_PATH: path,
      SUBSTATION_JOURNAL_MAX_MB: String(CAP_MB),
      SUBSTATION_CAPACITY_KW: "1000000",
      SUBSTATION_CHECKPOINT_MS: String(CHECKPOINT_MS),
    };
    const hog = diskHog(path, CAP_MB);
    try {
      await using a = await spawnSubstation(env);
      // Room that will be freed later, as deleting some other file would: more than the energy checkpoint
      // of every session admitted below needs (one row, ~25 bytes a session), or it could not land after.
      hog.take(15);

      // Sessions that will end by themselves while the disk is full.
      const short = await Promise.all(
        [0, 1, 2, 3].map(
          async (i) =>
            (await a.call("startSession", { vehicleId: `short-${i}`, durationS: SHORT_S })).json.result.data
              .session,
        ),
      );
      // Fill the journal with energy-based sessions (their energy is checkpointed too) until refused.
      const admitted: string[] = [];
      for (let batch = 0; ; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            a.call("startSession", { vehicleId: `ev-${batch}-${i}`, maxKw: 11, energyKwh: 100 }),
          ),
        );
        for (const r of answers) if (r.status === 200) admitted.push(r.json.result.data.session.sessionId);
        const refused = answers.filter((r) => r.status !== 200);
        // Never a 500: every refusal is the typed one.
        expect(refused.map((r) => [r.status, reasonOf(r)])).toEqual(
          refused.map(() => [503, "JOURNAL_UNAVAILABLE"]),
        );
        if (refused.length > 0) break;
        if (batch > 200) throw new Error("the journal never filled up");
      }
      // SQLite still writes into free bytes inside pages: take those of the settings table too, then an
      // operator tries to change something.
      hog.packSettings();
      const limit = await a.call("setLimit", { limitKw: 50 });
      expect([limit.status, reasonOf(limit)]).toEqual([503, "JOURNAL_UNAVAILABLE"]);
      const drain = await a.call("setDraining", { draining: true });
      expect([drain.status, reasonOf(drain)]).toEqual([503, "JOURNAL_UNAVAILABLE"]);
      expect((await a.call("getLoad")).json.result.data).toMatchObject({ limitKw: null, draining: false });

      // The journal still takes some ends (small rows, in the free bytes of its pages); the operator stops
      // sessions until one has to wait. (The energy checkpoint, one bigger row, may stop fitting first: it
      // waits on its own, and is not an end.)
      const endErrors = async () =>
        metricValue(await a.metrics(), "evgrid_substation_journal_errors_total", { op: "end" }) ?? 0;
      for (let stopped = 0; (await endErrors()) === 0; stopped++) {
        if (stopped >= admitted.length) throw new Error("every end fitted");
        expect((await a.call("stopSession", { sessionId: admitted[stopped] })).status).toBe(200);
        hog.packSettings();
      }

      // Sessions already charging run on, and end on time, whatever the journal took.
      const running = await query(a, "getSession", { sessionId: admitted.at(-1) });
      expect(running.json.result.data).toMatchObject({ status: "active", allocatedKw: 11 });
      for (const s of short) {
        const ended = await eventually(
          async () => {
            const got = (await query(a, "getSession", { sessionId: s.sessionId })).json.result.data;
            expect(got.status).toBe("ended");
            return got;
          },
          { timeoutMs: 10_000 },
        );
        expect(ended.endReason).toBe("time_elapsed");
        const lateMs = Date.parse(ended.endedAt) - Date.parse(s.startedAt) - SHORT_S * 1000;
        expect(lateMs).toBeGreaterThanOrEqual(0); // how late under load is the benchmarks' business
      }

      // More than two checkpoints (each retries what waits), and it answers throughout.
      await answersThroughout(a, 2);
      const page = await a.metrics();
      const errors = (op: string) => metricValue(page, "evgrid_substation_journal_errors_total", { op }) ?? 0;
      expect(errors("start")).toBeGreaterThanOrEqual(1);
      expect(errors("setting")).toBe(2);
      expect(errors("end")).toBeGreaterThanOrEqual(1);
      // Logged at most once a minute per kind of write, not once per failure.
      expect(
        a
          .stderr()
          .split("\n")
          .filter((l) => l.includes("cannot write the journal")).length,
      ).toBeLessThan(6);

      // A crash on the full disk, and a restart on it: it comes up, with the state it answered.
      a.proc.kill("SIGKILL");
      await a.proc.exited;
      await using b = await spawnSubstation(env);
      expect((await b.call("getLoad")).json.result.data).toMatchObject({ limitKw: null, draining: false });
      for (const s of short) {
        const got = (await query(b, "getSession", { sessionId: s.sessionId })).json.result.data;
        expect(got).toMatchObject({ status: "ended", endReason: "time_elapsed" });
      }
      // The restarted one has nothing failing to retry (its ends were journaled before the crash): it
      // answers on the full disk, and the writes it keeps land below once there is room.
      await answersThroughout(b, 0);

      // Room again: what waited lands, and new work is taken.
      hog.free();
      await eventually(async () => expect(await pending(b)).toBe(0), { timeoutMs: 10_000 });
      expect((await b.call("startSession", { vehicleId: "after", durationS: 60 })).status).toBe(200);
      expect((await b.call("setLimit", { limitKw: 900_000 })).status).toBe(200);
      expect(await b.stop()).toBe(0);

      const journal = new Journal(path);
      try {
        for (const s of short)
          expect(journal.find(s.sessionId)).toMatchObject({ status: "ended", endReason: "time_elapsed" });
        expect(journal.getSetting("limitKw")).toBe("900000");
      } finally {
        journal.close();
      }
    } finally {
      hog.close();
    }
  }, 60_000);
});

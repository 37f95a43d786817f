import { describe, expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema, errorDataOf } from "@evgrid/contract";
import { GridError, manualScheduler } from "@evgrid/kit";
import type { DispatchResult } from "../src/types.ts";
import { WaitQueue } from "../src/wait-queue.ts";

const req = (vehicleId: string, over: Record<string, unknown> = {}): DispatchRequest =>
  dispatchRequestSchema.parse({ vehicleId, waitS: 10, owner: "addr:203.0.113.1", ...over });
const resultFor = (r: DispatchRequest) =>
  ({ session: { sessionId: `s.${r.vehicleId}` } }) as unknown as DispatchResult;
const flush = () => new Promise((r) => setTimeout(r, 0));
const gridFull = () => new GridError("TOO_MANY_REQUESTS", "GRID_FULL", "full");

/** A queue over a grid with `roomKw` of free minimum power, on a hand-driven clock. */
function queue(opts: { roomKw: number; maxWaiting?: number; maxPerOwner?: number }) {
  const clock = manualScheduler();
  const grid = { roomKw: opts.roomKw, dispatched: [] as string[], abandoned: [] as string[] };
  const q = new WaitQueue({
    hasRoomFor: (r) => r.minKw <= grid.roomKw,
    dispatch: async (r) => {
      if (r.minKw > grid.roomKw) throw gridFull();
      grid.roomKw -= r.minKw;
      grid.dispatched.push(r.vehicleId);
      return resultFor(r);
    },
    abandon: (result) => grid.abandoned.push(result.session.sessionId),
    maxWaiting: opts.maxWaiting ?? 100,
    maxPerOwner: opts.maxPerOwner ?? 100,
    scheduler: clock,
  });
  return { q, grid, clock };
}

describe("WaitQueue", () => {
  test("freed power goes to waiters oldest first; one that cannot fit yet does not hold up the rest", async () => {
    const { q, grid } = queue({ roomKw: 0 });
    const answers = ["big", "a", "b"].map((v) => q.wait(req(v, v === "big" ? { minKw: 50, maxKw: 50 } : {})));
    grid.roomKw = 8.4;
    await q.pump();
    expect(grid.dispatched).toEqual(["a", "b"]);
    grid.roomKw += 50;
    await q.pump();
    expect(grid.dispatched).toEqual(["a", "b", "big"]);
    expect((await Promise.all(answers)).map((r) => r.session.sessionId)).toEqual(["s.big", "s.a", "s.b"]);
  });

  test("a waiter whose time runs out is refused GRID_FULL and leaves the queue", async () => {
    const { q, clock } = queue({ roomKw: 0 });
    const answer = q.wait(req("late", { waitS: 2 })).catch((e: unknown) => e);
    clock.advance(1999);
    await flush();
    expect(q.length).toBe(1);
    clock.advance(1);
    expect(errorDataOf(await answer) ?? (await answer)).toMatchObject({ reason: "GRID_FULL" });
    expect(q.length).toBe(0);
  });

  test("a vehicle leaves at its departure: its wait ends then, and a refusal because it left while its dispatch was in flight is GRID_FULL too", async () => {
    // Wall time runs with the hand-driven clock; the request's departure is 3 s away.
    const clock = manualScheduler();
    const startMs = Date.now();
    const departAt = new Date(startMs + 3000).toISOString();
    const departed = new GridError("BAD_REQUEST", "INVALID_INPUT", "departAt is in the past");
    departed.fieldErrors = { departAt: ["departAt is in the past"] };
    let inFlight: ((err: unknown) => void) | undefined;
    const q = new WaitQueue({
      hasRoomFor: (r) => r.vehicleId === "served",
      dispatch: () => new Promise((_, reject) => (inFlight = reject)),
      abandon: () => {},
      maxWaiting: 10,
      maxPerOwner: 10,
      scheduler: clock,
      wallNow: () => startMs + clock.now(),
    });
    const waited = q.wait(req("waited", { waitS: 60, departAt, energyKwh: 5 })).catch((e: unknown) => e);
    const served = q.wait(req("served", { waitS: 60, departAt, energyKwh: 5 })).catch((e: unknown) => e);
    await flush();
    clock.advance(2999);
    await flush();
    expect(q.length).toBe(2);
    // The substation's answer comes after the departure: the car left before room came, not a bad request.
    clock.advance(1);
    inFlight?.(departed);
    for (const answer of [await waited, await served]) {
      expect(answer).toMatchObject({
        reason: "GRID_FULL",
        message: expect.stringContaining("before its departure"),
        details: { departAt },
      });
    }
    expect(q.length).toBe(0);
  });

  test("a departure refused by a substation whose clock runs ahead is GRID_FULL; any other bad request is relayed as it is", async () => {
    const departed = new GridError("BAD_REQUEST", "INVALID_INPUT", "departAt is in the past");
    departed.fieldErrors = { departAt: ["departAt is in the past"] };
    const wrong = new GridError("BAD_REQUEST", "INVALID_INPUT", "maxKw is too large");
    wrong.fieldErrors = { maxKw: ["maxKw is too large"] };
    const refusing = (refusal: GridError, wallNow?: () => number) =>
      new WaitQueue({
        hasRoomFor: () => true,
        dispatch: async () => {
          throw refusal;
        },
        abandon: () => {},
        maxWaiting: 10,
        maxPerOwner: 10,
        scheduler: manualScheduler(),
        ...(wallNow ? { wallNow } : {}),
      });
    const departAt = new Date(Date.now() + 60_000).toISOString();
    const wait = (q: WaitQueue) => q.wait(req("a", { departAt, energyKwh: 5 })).catch((e: unknown) => e);
    // The departure is a minute away here; the substation says it has passed.
    expect(await wait(refusing(departed))).toMatchObject({ reason: "GRID_FULL", details: { departAt } });
    expect(await wait(refusing(wrong))).toBe(wrong);
    // Also once the departure has passed here: an answer about maxKw is not one about the departure.
    expect(await wait(refusing(wrong, () => Date.now() + 120_000))).toBe(wrong);
  });

  test("an optimistic view (the substation was full after all) keeps the waiter's place", async () => {
    let refusals = 1;
    const q = new WaitQueue({
      hasRoomFor: () => true,
      dispatch: async (r) => {
        if (refusals-- > 0) throw gridFull();
        return resultFor(r);
      },
      abandon: () => {},
      maxWaiting: 10,
      maxPerOwner: 10,
      scheduler: manualScheduler(),
    });
    const answer = q.wait(req("a"));
    await flush();
    expect(q.length).toBe(1);
    await q.pump();
    expect((await answer).session.sessionId).toBe("s.a");
  });

  test("a caller that hangs up leaves at once; if its dispatch was under way, its session is stopped again", async () => {
    const { q, grid } = queue({ roomKw: 0 });
    const gone = new AbortController();
    const leaving = q.wait(req("gone"), gone.signal).catch((e: unknown) => e);
    gone.abort();
    expect(errorDataOf(await leaving) ?? (await leaving)).toMatchObject({ reason: "CALLER_GONE" });
    expect(q.length).toBe(0);

    // Now one whose caller hangs up while it is being admitted.
    let admit: (() => void) | undefined;
    const slow = new WaitQueue({
      hasRoomFor: () => true,
      dispatch: (r) => new Promise((resolve) => (admit = () => resolve(resultFor(r)))),
      abandon: (result) => grid.abandoned.push(result.session.sessionId),
      maxWaiting: 10,
      maxPerOwner: 10,
      scheduler: manualScheduler(),
    });
    const midway = new AbortController();
    const answer = slow.wait(req("midway"), midway.signal).catch((e: unknown) => e);
    await flush();
    midway.abort();
    admit?.();
    expect(errorDataOf(await answer) ?? (await answer)).toMatchObject({ reason: "CALLER_GONE" });
    expect(grid.abandoned).toEqual(["s.midway"]);
  });

  test("bounded in all and per caller: the rest are told at once, with when to retry", async () => {
    const { q } = queue({ roomKw: 0, maxWaiting: 3, maxPerOwner: 2 });
    const waiting = [q.wait(req("a1")), q.wait(req("a2"))];
    const third = await q.wait(req("a3")).catch((e: unknown) => e);
    expect(third).toMatchObject({ reason: "QUOTA_EXCEEDED", details: { quota: "waiting", limit: 2 } });
    const other = req("b1", { owner: "addr:198.51.100.7" });
    waiting.push(q.wait(other));
    const full = await q.wait(req("c1", { owner: "addr:192.0.2.1" })).catch((e: unknown) => e);
    expect(full).toMatchObject({ reason: "WAIT_QUEUE_FULL", details: { retryAfterS: 5 } });
    expect(q.length).toBe(3);
    for (const w of waiting) void w.catch(() => {});
  });

  test("a waiter that arrived while the shared store was down takes its place once it is back, then is served", async () => {
    let storeUp = false;
    let tickets = 0;
    const order = {
      replica: "me",
      enter: async () => (storeUp ? ++tickets : null),
      leave: () => {},
      snapshot: async () => (storeUp ? [] : null),
    };
    let roomKw = 0;
    const q = new WaitQueue({
      hasRoomFor: (r) => r.minKw <= roomKw,
      dispatch: async (r) => resultFor(r),
      abandon: () => {},
      maxWaiting: 10,
      maxPerOwner: 10,
      scheduler: manualScheduler(),
      order,
    });
    const answer = q.wait(req("arrived-while-down"));
    await flush();
    storeUp = true;
    await q.pump(); // back: it asks for its ticket
    await flush();
    expect(tickets).toBe(1);
    roomKw = 100;
    await q.pump();
    expect((await answer).session.sessionId).toBe("s.arrived-while-down");
  });
});

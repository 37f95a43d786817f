import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dispatchRequestSchema, type Session } from "@evgrid/contract";
import fc from "fast-check";
import { MemoryStore } from "../src/memory.ts";
import { ExpiryWheel } from "../src/memory-homes.ts";
import type { DispatchResult } from "../src/types.ts";

const req = (o: Record<string, unknown>) =>
  dispatchRequestSchema.parse({ vehicleId: "ev", owner: "addr:203.0.113.1", ...o });
const session = (substationId: string, expectedEndMs: number) =>
  ({ substationId, status: "active", expectedEndAt: new Date(expectedEndMs).toISOString() }) as Session;

describe("MemoryStore", () => {
  test("concurrent requests with one key share one dispatch; the others are told it is a replay", async () => {
    const memory = new MemoryStore();
    let runs = 0;
    // The dispatch is answered only once all three have asked: they certainly overlap.
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const dispatch = async () => {
      runs += 1;
      await answered;
      return { replayed: false } as DispatchResult;
    };
    const r = req({ idempotencyKey: "k" });
    const asked = [1, 2, 3].map(() => memory.coalesce(r, dispatch));
    answer();
    const results = await Promise.all(asked);
    expect(runs).toBe(1);
    expect(results.map((x) => x.replayed)).toEqual([false, true, true]);
  });

  test("a key is remembered for its TTL, per caller; a vehicle a grace past its session's expected end", () => {
    let nowMs = 0;
    const memory = new MemoryStore(3_600_000, 1000, () => nowMs, 60_000);
    memory.remember(req({ idempotencyKey: "order-1" }), session("substation-2", 600_000));
    expect(memory.homeOf(req({ idempotencyKey: "order-1", vehicleId: "other" }))).toBe("substation-2");
    expect(memory.isRetry(req({ idempotencyKey: "order-1" }))).toBe(true);
    // Another caller's "order-1" is another key.
    const stranger = req({ idempotencyKey: "order-1", vehicleId: "x", owner: "addr:198.51.100.7" });
    expect(memory.homeOf(stranger)).toBeUndefined();
    expect(memory.isRetry(stranger)).toBe(false);
    // The vehicle's home outlives its session's expected end by the grace (its substation may end it late).
    nowMs = 600_000;
    expect(memory.homeOf(req({ vehicleId: "ev" }))).toBe("substation-2");
    nowMs = 660_000;
    expect(memory.homeOf(req({ vehicleId: "ev" }))).toBeUndefined();
    expect(memory.homeOf(req({ idempotencyKey: "order-1", vehicleId: "other" }))).toBe("substation-2");
    nowMs = 3_600_000;
    expect(memory.isRetry(req({ idempotencyKey: "order-1" }))).toBe(false);
  });

  test("a key said to be new that the balancer knows still goes home and counts as a retry", () => {
    const memory = new MemoryStore();
    memory.remember(req({ idempotencyKey: "auto:1", vehicleId: "ev" }), session("substation-2", 600_000));
    // Only a sender that broke its word sends a used key as new: the balancer's books still catch it.
    const saidNew = req({ idempotencyKey: "auto:1", vehicleId: "other", newKey: true });
    expect(memory.isRetry(saidNew)).toBe(true);
    expect(memory.homeOf(saidNew)).toBe("substation-2");
  });

  test("bounded: past its size the oldest entries go first", () => {
    const memory = new MemoryStore(3_600_000, 2, () => 0);
    for (const k of ["a", "b", "c"])
      memory.remember(req({ idempotencyKey: k, vehicleId: k }), session("s-1", 1));
    expect(["a", "b", "c"].map((k) => memory.isRetry(req({ idempotencyKey: k })))).toEqual([
      false,
      false,
      true,
    ]);
  });

  test("vehicles that came and went are dropped as new ones come: a steady flow holds a minute of them, not the bound", () => {
    // As `bun run soak:chain` drives it: a new vehicle every 5 ms, each charging 1 s, no keys.
    let nowMs = 0;
    const memory = new MemoryStore(3_600_000, 200_000, () => nowMs, 60_000);
    let most = 0;
    for (let i = 0; i < 60_000; i++) {
      nowMs = i * 5;
      memory.remember(req({ vehicleId: `ev-${i}` }), session("substation-1", nowMs + 1000));
      most = Math.max(most, memory.size);
    }
    // 61 s of vehicles at 200 per second (and up to a second more: homes are dropped by whole seconds),
    // never the 60,000 seen.
    expect(most).toBeLessThanOrEqual(62 * 200 + 1);
    expect(memory.size).toBeGreaterThanOrEqual(61 * 200 - 1);
    // The ones still within their time are all there.
    expect(memory.homeOf(req({ vehicleId: "ev-59999" }))).toBe("substation-1");
    expect(memory.homeOf(req({ vehicleId: `ev-${60_000 - 61 * 200 + 10}` }))).toBe("substation-1");
  });
});

test("MemoryStore's size per home: its name and one slot, no object per home, no second copy of it", () => {
  // Measured in a process of its own: heap figures in a shared test process depend on what ran before.
  const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "heap-per-home.ts")]);
  expect({ exitCode: run.exitCode, stderr: run.stderr.toString() }).toEqual({ exitCode: 0, stderr: "" });
  const m = JSON.parse(run.stdout.toString()) as {
    homes: number;
    cellsPerHome: number;
    bytesPerHome: number;
  };
  console.log(
    `${m.homes} homes: ${m.cellsPerHome.toFixed(2)} heap cells and ${Math.round(m.bytesPerHome)} bytes each`,
  );
  expect(m.homes).toBeGreaterThan(24_000);
  // Its name (a string) is the one cell; before: a record and an expiry entry too (3 cells, ~310 bytes).
  expect(m.cellsPerHome).toBeLessThan(1.2);
  expect(m.bytesPerHome).toBeLessThan(260);
});

test("MemoryStore at its bound: an expired home goes before a live one", () => {
  let nowMs = 1_700_000_000_000;
  const memory = new MemoryStore(3_600_000, 2, () => nowMs, 0);
  // v1's session ends in 100 ms (its vehicle's home with it); its key is held an hour.
  memory.remember(req({ vehicleId: "v1", idempotencyKey: "k1" }), session("s-1", nowMs + 100));
  nowMs += 500; // v1's home has expired, within the same second
  memory.remember(req({ vehicleId: "v2" }), session("s-2", nowMs + 60_000));
  // A retry of k1 still goes to s-1 (elsewhere it could start a second session).
  expect(memory.homeOf(req({ vehicleId: "v1", idempotencyKey: "k1" }))).toBe("s-1");
});

test("MemoryStore: more substations holding homes at once than a home's packing indexes: the oldest make room", async () => {
  const nowMs = 1_700_000_000_000;
  const memory = new MemoryStore(3_600_000, 200_000, () => nowMs, 60_000);
  for (let i = 0; i < 2048; i++)
    memory.remember(req({ vehicleId: `v${i}`, idempotencyKey: `k${i}` }), session(`s-${i}`, nowMs + 1000));
  const late = req({ vehicleId: "late", idempotencyKey: "k-late" });
  const claim = await memory.claim(late);
  await claim.finish({ kind: "admitted", session: session("s-new", nowMs + 1000) } as never);
  expect(memory.homeOf(late)).toBe("s-new");
  // The newest homes are kept; the vehicle is free for its next request (no claim left behind).
  expect(memory.homeOf(req({ vehicleId: "x", idempotencyKey: "k2047" }))).toBe("s-2047");
  await (await memory.claim(req({ vehicleId: "late" }))).finish({ kind: "refused" } as never);
});

test("MemoryStore: more substation ids over its life than a home's packing indexes: each home keeps its own", () => {
  let nowMs = 0;
  const memory = new MemoryStore(1000, 200_000, () => nowMs, 0);
  for (let i = 0; i < 5000; i++) {
    nowMs = i * 10;
    memory.remember(req({ vehicleId: `ev-${i}`, idempotencyKey: `k-${i}` }), session(`s-${i}`, nowMs));
    expect(memory.homeOf(req({ vehicleId: "x", idempotencyKey: `k-${i}` }))).toBe(`s-${i}`);
  }
  expect(memory.homeOf(req({ vehicleId: "x", idempotencyKey: "k-4950" }))).toBe("s-4950");
});

test("MemoryStore: a time to live in a fraction of an hour (a fraction of a millisecond) keeps each home's substation", () => {
  let nowMs = 1_000.25;
  // IDEMPOTENCY_TTL_H=0.0167 is 60,120.00000000001 ms: the expiry is no whole number of ms.
  const memory = new MemoryStore(0.0167 * 3_600_000, 200_000, () => nowMs, 0);
  for (let i = 0; i < 50; i++) {
    nowMs += 0.37;
    memory.remember(req({ vehicleId: `ev-${i}`, idempotencyKey: `k-${i}` }), session(`s-${i}`, nowMs));
  }
  for (let i = 0; i < 50; i++)
    expect(memory.homeOf(req({ vehicleId: "x", idempotencyKey: `k-${i}` }))).toBe(`s-${i}`);
});

test("MemoryStore at its bound: making room stays cheap when thousands of homes expire in the second under way", () => {
  // A busy balancer holds thousands of vehicle homes expiring in each second. At its bound, each insert
  // looks for an expired one to drop first: one look per name of the second, not one per name per insert.
  const wheel = new ExpiryWheel();
  const startMs = 1_700_000_000_001; // every home below expires within the one second that follows
  const expiry = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const atMs = startMs + ((i * 7919) % 1000); // spread over the second, out of order
    expiry.set(`v${i}`, atMs);
    wheel.add(`v${i}`, atMs);
  }
  let looks = 0;
  const dropped: string[] = [];
  for (let t = 0; t < 3000; t++) {
    const nowMs = startMs + Math.floor(t / 3);
    wheel.takeExpiredUnderWay(
      nowMs,
      (name) => {
        looks += 1;
        return expiry.get(name);
      },
      (name) => {
        if ((expiry.get(name) as number) <= nowMs) dropped.push(name);
        expiry.delete(name);
      },
    );
    // Everything expired by now has been handed over, and nothing else.
    expect([...expiry.values()].every((atMs) => atMs > nowMs)).toBe(true);
  }
  expect(dropped.length).toBe(3000);
  expect(looks).toBe(3000);
});

test("ExpiryWheel: a second taken and then given names again (the clock stepped back) offers them all", () => {
  const wheel = new ExpiryWheel();
  const expiry = new Map<string, number>();
  const add = (name: string, atMs: number) => {
    expiry.set(name, atMs);
    wheel.add(name, atMs);
  };
  const taken: string[] = [];
  const take = (nowMs: number) =>
    wheel.takeExpiredUnderWay(
      nowMs,
      (n) => expiry.get(n),
      (n) => {
        taken.push(n);
        expiry.delete(n);
      },
    );
  add("a", 1_500);
  add("b", 1_600);
  take(1_550); // the heap of second 2 has both; "a" is due
  wheel.takeDue(2_000, () => {}); // second 2 passes
  add("c", 1_700); // the clock stepped back: second 2 again, one name
  take(1_800);
  expect(taken).toEqual(["a", "c"]);
});

test("MemoryStore at its bound keeps the homes a FIFO would (a home set again goes last)", () => {
  // Long enough for the map to rehash many times under its kept iterator (kit's MapFront).
  const nowMs = 1_700_000_000_000;
  const op = fc.record({ v: fc.integer({ min: 0, max: 15 }), end: fc.integer({ min: 1, max: 3 }) });
  fc.assert(
    fc.property(fc.array(op, { minLength: 200, maxLength: 600 }), (ops) => {
      const memory = new MemoryStore(3_600_000, 8, () => nowMs, 60_000);
      const model: { v: number; end: number }[] = [];
      for (const { v, end } of ops) {
        memory.remember(req({ vehicleId: `v${v}` }), session(`s-${end}`, nowMs + end * 1000));
        const i = model.findIndex((m) => m.v === v);
        if (i >= 0) model.splice(i, 1);
        model.push({ v, end });
        if (model.length > 8) model.shift();
        const held = Array.from({ length: 16 }, (_, k) => memory.homeOf(req({ vehicleId: `v${k}` })));
        const expected = Array.from({ length: 16 }, (_, k) => {
          const m = model.find((x) => x.v === k);
          return m ? `s-${m.end}` : undefined;
        });
        expect(held).toEqual(expected);
      }
    }),
    { numRuns: 50 },
  );
});

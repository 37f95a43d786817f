/** MemoryStore at its bound: once it has dropped a live home, it asks the substations until that home lapses. */
import { expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema, type Session } from "@evgrid/contract";
import { MemoryStore } from "../src/memory.ts";

const req = (o: Record<string, unknown>) =>
  dispatchRequestSchema.parse({ vehicleId: "ev", owner: "addr:203.0.113.1", ...o });
const session = (substationId: string, expectedEndMs: number) =>
  ({ substationId, status: "active", expectedEndAt: new Date(expectedEndMs).toISOString() }) as Session;

/** A store of two homes whose `locate` answers from `where` (by vehicle), counting what it was asked. */
function boundedStore(where: Map<string, string | null>) {
  const clock = { nowMs: 1_700_000_000_000 };
  const asked: string[] = [];
  const locate = async (r: DispatchRequest) => {
    asked.push(r.vehicleId);
    return where.get(r.vehicleId);
  };
  const memory = new MemoryStore(3_600_000, 2, () => clock.nowMs, 0, locate);
  return { memory, asked, clock };
}

test("nothing dropped live: a vehicle it holds no home for is not asked about", async () => {
  const { memory, asked } = boundedStore(new Map());
  const claim = await memory.claim(req({ vehicleId: "ev-new" }));
  expect(claim.home).toBeUndefined();
  await claim.finish({ kind: "none" });
  expect(asked).toEqual([]);
});

test("a live home dropped for room: the vehicle is located and pinned there, until that home would have lapsed", async () => {
  const { memory, asked, clock } = boundedStore(new Map([["ev-1", "s-1"]]));
  // Three vehicles charging for 10 minutes: ev-1's home goes for ev-3's.
  for (const [v, at] of [
    ["ev-1", "s-1"],
    ["ev-2", "s-2"],
    ["ev-3", "s-2"],
  ] as const)
    memory.remember(req({ vehicleId: v }), session(at, clock.nowMs + 600_000));
  expect(memory.homeOf(req({ vehicleId: "ev-1" }))).toBeUndefined();

  const claim = await memory.claim(req({ vehicleId: "ev-1" }));
  expect(claim).toMatchObject({ home: "s-1", pinned: true });
  await claim.finish({ kind: "none" });
  // One nobody holds is asked about too, and goes wherever there is room.
  const other = await memory.claim(req({ vehicleId: "ev-9" }));
  expect(other).toMatchObject({ home: undefined, pinned: false });
  await other.finish({ kind: "none" });
  expect(asked).toEqual(["ev-1", "ev-9"]);
  // Once ev-1's home would have lapsed, nothing it forgot can still be live: nobody is asked.
  clock.nowMs += 600_001;
  await (await memory.claim(req({ vehicleId: "ev-10" }))).finish({ kind: "none" });
  expect(asked).toEqual(["ev-1", "ev-9"]);
});

test("a substation that does not answer: refused, retry shortly, and the vehicle is free for that retry", async () => {
  const { memory, clock } = boundedStore(new Map([["ev-1", null]]));
  for (const v of ["ev-1", "ev-2", "ev-3"])
    memory.remember(req({ vehicleId: v }), session("s-1", clock.nowMs + 600_000));
  const refused = await memory.claim(req({ vehicleId: "ev-1" })).catch((e: unknown) => e);
  expect(refused).toMatchObject({
    code: "SERVICE_UNAVAILABLE",
    reason: "STATE_REBUILDING",
    details: { retryAfterS: 1 },
  });
  // Not left "being started by another request": its retry is asked about again, not refused as a conflict.
  await expect(memory.claim(req({ vehicleId: "ev-1" }))).rejects.toThrow(/not every substation answered/);
});

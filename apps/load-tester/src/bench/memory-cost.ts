import { MemoryStore } from "@evgrid/balancer/memory";
import { dispatchRequestSchema, type Session } from "@evgrid/contract";
import { median } from "../load/stats.ts";

export interface HomesCost {
  /** Homes the balancer's memory held while measured. */
  homes: number;
  /** What one dispatch adds to it (its key and its vehicle, each a home), microseconds. */
  rememberUs: number;
}

/**
 * The cost of the balancer remembering one dispatch (memory.ts) below its bound and at it, in process and
 * in virtual time: 10,000 dispatches a second, each with a key held 24 h and a vehicle held a minute past its
 * 1 s session. At the bound every dispatch makes room (the oldest homes go, an expired one first).
 */
export function homesCost(bound: number, rounds = 7, perRound = 20_000): HomesCost {
  let nowMs = 1_700_000_000_000;
  const memory = new MemoryStore(24 * 3_600_000, bound, () => nowMs, 60_000);
  let n = 0;
  const remember = () => {
    n += 1;
    nowMs += 0.1;
    const req = dispatchRequestSchema.parse({
      vehicleId: `ev-${n}`,
      owner: "addr:203.0.113.1",
      idempotencyKey: `auto:${n}`,
    });
    const session = {
      substationId: `substation-${n % 4}`,
      status: "active",
      expectedEndAt: new Date(nowMs + 1000).toISOString(),
    };
    memory.remember(req, session as Session);
  };
  // Filled to the bound (or to its steady state below it) and past it once, before anything is timed.
  while (n < 2 * bound) remember();
  const us: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) remember();
    us.push(((performance.now() - t0) / perRound) * 1000);
  }
  return { homes: memory.size, rememberUs: median(us) };
}

/** A station as `bun run soak:chain` runs it: ended sessions and keys kept as the soak keeps them. */
import type { Journal } from "../src/journal.ts";
import { Station } from "../src/station.ts";

export const soakStation = (journal: Journal, clock: { ms: number }) =>
  new Station({
    id: "substation-1",
    capacityKw: 1_000_000,
    journal,
    endedRetention: 10_000,
    idempotencyTtlMs: 60_000,
    now: () => clock.ms,
  });

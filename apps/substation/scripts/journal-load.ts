/**
 * The load both journal-cost drivers put on a substation (journal-cost.ts in process, journal-cost-http.ts
 * over HTTP): CONCURRENCY callers, REQUESTS sessions in all, each started, held HOLD_MS and stopped.
 */
export function loadOf(defaultRequests: number) {
  return {
    sync: process.env.SUBSTATION_SYNC ?? "normal",
    requests: Number(process.env.REQUESTS ?? defaultRequests),
    concurrency: Number(process.env.CONCURRENCY ?? 32),
    holdMs: Number(process.env.HOLD_MS ?? 50),
  };
}
export type Load = ReturnType<typeof loadOf>;

/** Runs the load: `start` admits a session and answers its id, `stop` ends it. */
export async function drive(
  load: Load,
  start: (vehicleId: string, shape: Record<string, number>) => Promise<string>,
  stop: (sessionId: string) => unknown,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: load.concurrency }, async (_, u) => {
      while (next < load.requests) {
        const i = next++;
        // Half energy-based (checkpointed), half time-based, as chargers ask.
        const shape: Record<string, number> =
          i % 2 === 0 ? { maxKw: 11, energyKwh: 50 } : { durationS: 3600 };
        const sessionId = await start(`ev-${u}-${i}`, shape);
        await Bun.sleep(load.holdMs);
        await stop(sessionId);
      }
    }),
  );
}

/** What both print first: the load, and the requests served per second over `elapsedS`. */
export const loadLine = (load: Load, elapsedS: number) => ({
  ...load,
  reqPerS: Math.round(load.requests / elapsedS),
});

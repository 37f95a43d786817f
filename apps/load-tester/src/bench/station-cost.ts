import { dispatchRequestSchema } from "@evgrid/contract";
import { Station } from "@evgrid/substation/station";
import { median } from "../load/stats.ts";

export interface StationCost {
  sessions: number;
  /** One admission plus one stop (so the session count stays put), microseconds. */
  admitAndStopUs: number;
  getLoadUs: number;
}

// Four power classes, as on a real site: 11 and 22 kW AC, 7.4 kW with a low floor, 50 kW DC.
const KINDS = [{ maxKw: 11 }, { maxKw: 22 }, { maxKw: 7.4, minKw: 1.4 }, { maxKw: 50, minKw: 20 }].map(
  (k, i) => dispatchRequestSchema.parse({ vehicleId: `bench-${i}`, durationS: 3600, ...k }),
);

/**
 * Cost of admission and of getLoad on one substation already holding `sessions` active sessions (in memory:
 * the journal's cost is measured end to end, with and without it).
 */
export async function stationCost(sessions: number, rounds = 7, opsPerRound = 4000): Promise<StationCost> {
  const station = new Station({ id: "bench", capacityKw: 1e9 });
  try {
    // One vehicle per session: a vehicle may hold one active session only.
    const kind = (i: number) => ({
      ...(KINDS[i % KINDS.length] as (typeof KINDS)[number]),
      vehicleId: `bench-${i}`,
    });
    for (let i = 0; i < sessions; i++) await station.start(kind(i));
    const admit: number[] = [];
    const load: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      for (let i = 0; i < opsPerRound; i++) {
        const { session } = await station.start(kind(sessions + i));
        station.stop(session.sessionId);
      }
      admit.push(((performance.now() - t0) / opsPerRound) * 1000);
      t0 = performance.now();
      for (let i = 0; i < opsPerRound * 10; i++) station.load();
      load.push(((performance.now() - t0) / (opsPerRound * 10)) * 1000);
    }
    return { sessions, admitAndStopUs: median(admit), getLoadUs: median(load) };
  } finally {
    station.close();
  }
}

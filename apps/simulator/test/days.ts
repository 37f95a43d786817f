/** Scenarios more than one test file replays. */
import { type Arrival, parseScenario } from "../src/index.ts";

/** A small seeded day: a 22 kW site beside a bigger one, 300 cars of 11 kW, most arriving around 18:00. */
export const eveningDay = (bigKw: number, over: Record<string, unknown> = {}) =>
  parseScenario({
    name: "small",
    seed: 3,
    substations: [
      { id: "tiny", capacityKw: 22 },
      { id: "big", capacityKw: bigKw },
    ],
    arrivals: { perDay: 300, peaks: [{ at: "18:00", spreadH: 1, share: 0.8 }] },
    vehicles: [{ name: "AC 11", share: 1, maxKw: 11, minKw: 4.2 }],
    ...over,
  });

/** A car of 20 kW parked from 21:00 to 07:00 the next morning, wanting more than a night can give. */
export const overnightCar: Arrival = {
  id: 0,
  arriveMin: 21 * 60,
  departMin: 31 * 60,
  wantKwh: 500,
  minKw: 4.2,
  maxKw: 20,
  kind: "AC 22",
  priority: "standard",
};

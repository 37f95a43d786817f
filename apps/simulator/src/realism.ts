/**
 * The scenario fields that make the engine closer to a real garage (battery taper, EVSEs per site), and the
 * battery model itself. Kept apart from scenario.ts so that file only spreads them in.
 *
 * Battery ("linear two-stage", as in the research simulators): a car takes its maximum power up to
 * `fromSoc`, then a maximum falling linearly to zero at full. The arrivals know energy, not batteries, so
 * the model derives one: a battery of `batteryKwh` (or the energy asked, if larger) that the energy asked
 * fills exactly (the research simulators' own convention), i.e. it arrives at (battery - asked) / battery.
 * The maximum is re-read every `stepMin` and held in between. A car whose taper maximum falls below 1 % of
 * its maximum is full (its battery management stops).
 * Off by default: the shipped scenarios' figures stay comparable with earlier reports and with the offline
 * optimum, whose linear program has no taper.
 */
import { z } from "zod";

export const realismFields = {
  /** Battery taper (linear two-stage); absent: none, a car takes its maximum until its energy is in. */
  taper: z
    .strictObject({
      /** State of charge above which the maximum falls linearly to zero at full. */
      fromSoc: z.number().gt(0).lt(1).default(0.8),
      /** Battery size assumed when the data gives none, kWh (the energy asked, if larger). */
      batteryKwh: z.number().positive().max(1000).default(60),
      /** How often the tapering maximum is re-read, minutes. */
      stepMin: z.number().min(0.1).max(60).default(5),
    })
    .optional(),
  /** EVSEs (charging points) per site; absent: as many as cars. A car holds one from admission to departure. */
  evsesPerSite: z.number().int().positive().max(100_000).optional(),
  /**
   * The least time between two re-shares that only time triggers (a laxity crossing, a car out of slack),
   * minutes: the live system bounds its re-share rate too (the charger push coalesces anyway). For the
   * deadline rule it is counted from the last such re-share, as the substation does (a start or an end
   * neither waits for it nor holds it back), and a car counts as out of slack if its slack runs out before
   * the next may come; `llf` re-sorts no sooner than this after any re-share.
   */
  reshareGapMin: z.number().min(0.01).max(60).default(1),
  /** A car that finds every EVSE busy waits (up to maxWaitMin, as for power) or leaves at once. */
  whenEvsesBusy: z.enum(["wait", "leave"]).default("wait"),
};

export interface Taper {
  fromSoc: number;
  batteryKwh: number;
  stepMin: number;
}

/** Below this share of its maximum a tapering car counts as full. */
export const FULL_AT_SHARE_OF_MAX = 0.01;

/** A car's maximum power now, after the taper (its own maximum without one). */
export function taperedMaxKw(
  taper: Taper | undefined,
  car: { maxKw: number; wantKwh: number },
  deliveredKwh: number,
): number {
  if (!taper) return car.maxKw;
  const batteryKwh = Math.max(taper.batteryKwh, car.wantKwh);
  const soc = (batteryKwh - car.wantKwh + deliveredKwh) / batteryKwh;
  if (soc <= taper.fromSoc) return car.maxKw;
  return car.maxKw * Math.max(0, (1 - soc) / (1 - taper.fromSoc));
}

/**
 * Is a charger's meter reading believable? A meter's energy register only grows, and a connector cannot
 * deliver more than its maximum power for the time that passed: since the last accepted reading, and since
 * the transaction's start (so many small readings cannot add up to more). `slackWh` covers a register's
 * resolution (a kWh meter steps 1,000 Wh at once) and clocks; 10 % covers a maximum slightly exceeded.
 */
export interface MeterPoint {
  wh: number;
  atMs: number;
}

export type MeterVerdict = "ok" | "backwards" | "too_fast";

/** The largest register believed for a charger: 100 GWh, decades of a 350 kW charger running flat out. */
export const MAX_REGISTER_WH = 1e11;

export const plausibleRegister = (wh: number): boolean =>
  Number.isFinite(wh) && wh >= 0 && wh <= MAX_REGISTER_WH;

export function checkMeterReading(
  reading: MeterPoint,
  last: MeterPoint,
  start: MeterPoint,
  maxKw: number,
  slackWh: number,
): MeterVerdict {
  if (!plausibleRegister(reading.wh) || reading.wh < last.wh) return "backwards";
  const mostWh = (since: MeterPoint) =>
    since.wh + (maxKw * 1.1 * Math.max(0, reading.atMs - since.atMs)) / 3600 + slackWh;
  return reading.wh > mostWh(last) || reading.wh > mostWh(start) ? "too_fast" : "ok";
}

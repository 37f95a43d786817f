/**
 * The sums of the pusher's books: what each site's chargers may draw (kept as a connector changes, and
 * counted again), and the energy each connector was allowed (what its meter is checked against).
 */
import { type ConnectorPower, committedW } from "@evgrid/policy";
import { type ChargerState, holds, type Site, type Slot } from "./push-transport.ts";

/** What a charger counts for in a site's sum: its slots the site holds, at most its charge point's maximum. */
function chargerW(site: Site, ch: ChargerState): number {
  let sumW = 0;
  let capW = 0;
  for (const slot of ch.slots.values()) {
    if (!holds(site, slot)) continue;
    sumW += committedW(slot.power);
    capW = Math.max(capW, slot.power.maxW);
  }
  return Math.min(sumW, capW);
}

/** Makes a change to the charger's slots at the site (`change`), and moves the site's sum by what it changed. */
export function changing(site: Site | undefined, ch: ChargerState, change: () => void): void {
  const before = site ? chargerW(site, ch) : 0;
  change();
  if (site) site.heldW += chargerW(site, ch) - before;
}

/**
 * A connector's books changed: the site's sum follows. A slot the site no longer holds (an answer that came
 * after its transaction ended) changes only itself: it left the sum when it was forgotten.
 */
export function setPower(
  site: Site | undefined,
  ch: ChargerState,
  slot: Slot,
  power: ConnectorPower,
  nowMs: number,
): void {
  slot.allowedWh = allowedWh(slot, nowMs);
  slot.allowedAtMs = nowMs;
  changing(holds(site, slot) ? site : undefined, ch, () => {
    slot.peakW = Math.max(slot.peakW, committedW(power));
    slot.power = power;
  });
}

/** What a connector's meter is checked against (SiteBooks.allowance). */
export interface Allowance {
  peakW: number;
  allowedWh: number;
  openedAtMs: number;
  /** Its charger's connection (counted from 1): a reading after a reconnect may be one it queued offline. */
  connection: number;
}

/** The energy the books allowed the connector since it entered them (Wh): what it was counted at, over time. */
export const allowedWh = (slot: Slot, nowMs: number) =>
  slot.allowedWh + (committedW(slot.power) * Math.max(0, nowMs - slot.allowedAtMs)) / 3_600_000;

/** Σ what a site's chargers may draw as far as the gateway knows (W), counted again from its slots. */
export function heldW(site: Site): number {
  const chargers = new Map<string, { sumW: number; capW: number }>();
  for (const slot of site.slots.values()) {
    const ch = chargers.get(slot.chargePointId) ?? { sumW: 0, capW: 0 };
    chargers.set(slot.chargePointId, ch);
    ch.sumW += committedW(slot.power);
    ch.capW = Math.max(ch.capW, slot.power.maxW);
  }
  let w = 0;
  for (const ch of chargers.values()) w += Math.min(ch.sumW, ch.capW);
  return w;
}

/**
 * Break before make at the chargers: which power limits may be sent now so that the limits the chargers
 * have accepted never sum above the site, not even for the milliseconds between two chargers' answers.
 * Watts are integers here, always rounded down (9 x 6,667 W is 60,003 W on a 60,000 W site).
 */

/** One connector of a site as the gateway drives it (W). */
export interface ConnectorPower {
  /** The limit its charger acknowledged last (0 under the 0 W default profile). */
  acceptedW: number;
  /** A limit sent and not answered yet, or null: the charger may already be applying it. */
  inFlightW: number | null;
  /** What its share says it should have now. */
  targetW: number;
  /** What it may draw with no limit at all: its charge point's maximum. */
  maxW: number;
  /** false: the charger rejects limits or does not answer, so nothing holds it below maxW. */
  managed: boolean;
}

/** kW to W, rounded down: a sum of rounded shares never exceeds the rounded sum. */
export const wattsDown = (kw: number): number => Math.max(0, Math.floor(kw * 1000));

/**
 * A site's budget in W from its effective capacity in kW. The tolerance only undoes float noise
 * (43.3 * 1000 = 43299.999...), far below one watt, so a share equal to the site still fits.
 */
export const budgetWatts = (kw: number): number => Math.max(0, Math.floor(kw * 1000 + 1e-6));

/**
 * What a connector may draw as far as the gateway can know: the higher of what it accepted and what is on
 * its way to it (until the charger answers, either may be in force), or its maximum if nothing limits it.
 */
export function committedW(c: ConnectorPower): number {
  if (!c.managed) return c.maxW;
  return Math.max(c.acceptedW, c.inFlightW ?? 0);
}

/** Σ committedW: the sum the site must hold. */
export function siteCommittedW(connectors: Iterable<ConnectorPower>): number {
  let w = 0;
  for (const c of connectors) w += committedW(c);
  return w;
}

/**
 * The connectors whose target may be sent now (those with nothing in flight and a target that differs from
 * what they accepted): every decrease at once, since it can only lower what the site may draw; an increase
 * (a new transaction's first limit too) only if it fits: Σ committed + the increase ≤ budget, counted in
 * the order given (callers pass the oldest waiting first). An unmanaged connector already counts at its
 * maximum, so it may be sent up to that while the site is within budget (a timeout may have pushed the
 * books over: then only decreases). Decreases come first in the result.
 * `siteW`: the whole site's Σ committed, when `connectors` are only those waiting for a call (a site of
 * thousands answers one call at a time, and each answer must not cost a pass over all of them).
 */
export function sendable<K>(
  connectors: ReadonlyMap<K, ConnectorPower>,
  budgetW: number,
  siteW: number = siteCommittedW(connectors.values()),
): K[] {
  const decreases: K[] = [];
  const increases: K[] = [];
  let roomW = budgetW - siteW;
  for (const [key, c] of connectors) {
    if (c.inFlightW !== null || c.targetW === c.acceptedW) continue;
    if (c.targetW < c.acceptedW) decreases.push(key);
    else if (!c.managed) {
      if (roomW >= 0 && c.targetW <= c.maxW) increases.push(key);
    } else if (c.targetW - c.acceptedW <= roomW) {
      increases.push(key);
      roomW -= c.targetW - c.acceptedW;
    }
  }
  return [...decreases, ...increases];
}

/** How the books change when a connector's limit is sent, and when its charger answers. */
export const sent = (c: ConnectorPower): ConnectorPower => ({ ...c, inFlightW: c.targetW });

/**
 * The charger's answer to the limit in flight. accepted: in force, and the charger is managed again.
 * rejected (Rejected, NotImplemented, any CALLERROR): it keeps what it had, and nothing proves it
 * follows limits, so it is unmanaged (counted at its maximum). timeout: no answer, so unmanaged too, and the
 * limit may have been applied: accepted becomes the higher of the two. lost (the connection dropped): the
 * same uncertainty, but the charger is not to blame; it stays managed.
 */
export function answered(
  c: ConnectorPower,
  outcome: "accepted" | "rejected" | "timeout" | "lost",
): ConnectorPower {
  const inFlightW = c.inFlightW ?? c.acceptedW;
  switch (outcome) {
    case "accepted":
      return { ...c, acceptedW: inFlightW, inFlightW: null, managed: true };
    case "rejected":
      return { ...c, inFlightW: null, managed: false };
    case "timeout":
      return { ...c, acceptedW: Math.max(c.acceptedW, inFlightW), inFlightW: null, managed: false };
    case "lost":
      return { ...c, acceptedW: Math.max(c.acceptedW, inFlightW), inFlightW: null };
  }
}

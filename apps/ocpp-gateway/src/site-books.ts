import { committedW } from "@evgrid/policy";
import { type ChargerState, newChargerState, newSite, type Site } from "./push-transport.ts";
import { type Allowance, allowedWh, heldW } from "./site-sums.ts";

/**
 * What the gateway knows of each site's chargers and connectors (the pusher's books), and what it answers
 * about them: the read side of SitePusher, which keeps them.
 */
export class SiteBooks {
  protected readonly sites = new Map<string, Site>();
  protected readonly chargers = new Map<string, ChargerState>();

  constructor(
    /** Whether a charger was caught drawing more than it accepted before (the registry's mark). */
    private readonly caughtBefore: (chargePointId: string) => boolean = () => false,
  ) {}

  lastSent(chargePointId: string, connectorId: number): number | null {
    return this.chargers.get(chargePointId)?.slots.get(connectorId)?.lastSentW ?? null;
  }

  budgetW(substationId: string): number | null {
    const w = this.sites.get(substationId)?.budgetW ?? null;
    return Number.isFinite(w) ? w : null; // infinite (no capacity sent): nothing enforced, shown as null
  }

  /** What the connector's charger has acknowledged (W), or null. */
  acceptedW(chargePointId: string, connectorId: number): number | null {
    return this.chargers.get(chargePointId)?.slots.get(connectorId)?.power.acceptedW ?? null;
  }

  heldW(chargePointId: string, connectorId: number): number | null {
    const slot = this.chargers.get(chargePointId)?.slots.get(connectorId);
    return slot ? committedW(slot.power) : null;
  }

  /**
   * What the connector's meter is checked against (overdraw.ts), or null if it is not in the books: the most
   * it was counted at since the last call (W), the energy the books allowed it since it entered them (Wh),
   * and when that was.
   */
  allowance(chargePointId: string, connectorId: number, nowMs: number): Allowance | null {
    const ch = this.chargers.get(chargePointId);
    const slot = ch?.slots.get(connectorId);
    if (!ch || !slot) return null;
    const now = committedW(slot.power);
    const peakW = Math.max(slot.peakW, now);
    slot.peakW = now;
    return { peakW, allowedWh: allowedWh(slot, nowMs), openedAtMs: slot.openedAtMs, connection: ch.epoch };
  }

  /** Its charge-point-wide default is in force (a transaction there starts at defaultW). */
  hasDefault(chargePointId: string): boolean {
    return this.chargers.get(chargePointId)?.defaultAccepted ?? false;
  }

  isManaged(chargePointId: string): boolean {
    return this.chargers.get(chargePointId)?.managed ?? true;
  }

  refusesLimits(chargePointId: string): boolean {
    return this.chargers.get(chargePointId)?.refuses ?? false;
  }

  /** Its meter showed it draws more than it accepted, or with no transaction (overdraw.ts, stray-draw.ts). */
  overdraws(chargePointId: string): boolean {
    // Not in the books yet (no limit sent since a restart): the registry's mark says.
    return this.chargers.get(chargePointId)?.overdraws ?? this.caughtBefore(chargePointId);
  }

  /** Chargers that take no limits now (the unmanaged-chargers gauge). */
  unmanagedCount(): number {
    return [...this.chargers.values()].filter((ch) => !ch.managed).length;
  }

  /** What the gateway counts a site's chargers at (W): Σ max(accepted, in flight), maxima for unmanaged. */
  committedW(substationId: string): number {
    return heldW(this.sites.get(substationId) ?? newSite());
  }

  protected site(substationId: string): Site {
    const site = this.sites.get(substationId);
    return site ?? (this.sites.set(substationId, newSite()).get(substationId) as Site);
  }

  /** Set only when new: this runs for every transaction at every re-share. */
  protected charger(chargePointId: string, substationId: string): ChargerState {
    const known = this.chargers.get(chargePointId);
    if (known) return known;
    const ch = newChargerState(substationId);
    // Caught before: not believed from its first answer on (counted at its maximum, its sessions pinned).
    if (this.caughtBefore(chargePointId)) {
      ch.overdraws = true;
      ch.refuses = true;
      ch.managed = false;
    }
    this.chargers.set(chargePointId, ch);
    return ch;
  }
}

import { reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";

/** The most sources that may hold power at one substation (an OCPP gateway each, in practice). */
export const MAX_DRAW_SOURCES = 16;

/**
 * Power drawn at the site that no session holds, by who reports it: the OCPP gateway's count of chargers
 * drawing on a connector with no open transaction (apps/ocpp-gateway/src/stray-draw.ts). It comes off the
 * site's capacity and off the operator's limit (the site draws it too), so admissions, shares and curtailment
 * see only what is left, and the chargers' limits are lowered to fit beside it. Not journaled: a restarted
 * substation holds nothing until its sources set their holds again (the gateway compares what each level
 * event says is held with its own count, and sets it when they differ).
 */
export class DrawHolds {
  private readonly bySource = new Map<string, number>();
  /** The sum of every source's hold (kW). */
  totalKw = 0;

  /** Sets a source's hold (0 lifts it); whether it changed. */
  set(source: string, kw: number): boolean {
    const before = this.bySource.get(source) ?? 0;
    if (kw === before) return false;
    if (kw > 0 && !this.bySource.has(source) && this.bySource.size >= MAX_DRAW_SOURCES) {
      const e = new GridError(
        "BAD_REQUEST",
        reasons.INVALID_INPUT,
        `at most ${MAX_DRAW_SOURCES} sources may hold power at a substation; lift one first`,
      );
      e.fieldErrors = { source: [`${MAX_DRAW_SOURCES} sources hold power here already`] };
      throw e;
    }
    if (kw === 0) this.bySource.delete(source);
    else this.bySource.set(source, kw);
    this.totalKw = [...this.bySource.values()].reduce((a, b) => a + b, 0);
    return true;
  }

  /** A site's capacity and the operator's limit with the holds taken off (never below 0). */
  within(site: { capacityKw: number; limitKw: number | null }): {
    capacityKw: number;
    limitKw: number | null;
  } {
    if (this.totalKw === 0) return site;
    const off = (kw: number) => Math.max(0, kw - this.totalKw);
    return { capacityKw: off(site.capacityKw), limitKw: site.limitKw === null ? null : off(site.limitKw) };
  }
}

import { reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";

/** The most sources that may hold power at one substation (an OCPP gateway each, in practice). */
export const MAX_DRAW_SOURCES = 16;

/**
 * Power drawn at the site that no session holds, by who reports it: the OCPP gateway's count of chargers
 * drawing on a connector with no open transaction (apps/ocpp-gateway/src/stray-draw.ts). It comes off the
 * site's capacity and off the operator's limit (the site draws it too), so admissions and shares see only what
 * is left, and the chargers' limits are lowered to fit beside it. It curtails nobody: it rests on a charger's
 * meter, which is its word, and a hostile charger must not be able to end other drivers' sessions with it;
 * sessions whose minimums no longer fit keep them (the site is over-committed until some end). Not journaled: a restarted
 * substation holds nothing until its sources set their holds again (the gateway compares what each level
 * event says its source holds with its own count, and sets it when they differ).
 */
export class DrawHolds {
  private readonly bySource = new Map<string, number>();
  /** The sum of every source's hold (kW). */
  totalKw = 0;
  /** Every source's hold (kW), as level events carry it: a new object at each change, none between. */
  record: Readonly<Record<string, number>> = {};

  /** Sets a source's hold (0 lifts it); whether it changed. */
  set(source: string, kw: number): boolean {
    const before = this.bySource.get(source) ?? 0;
    if (kw === before) return false;
    if (kw > 0 && !this.bySource.has(source) && this.bySource.size >= MAX_DRAW_SOURCES) {
      throw new GridError(
        "CONFLICT",
        reasons.DRAW_HOLDS_FULL,
        `at most ${MAX_DRAW_SOURCES} sources may hold power at a substation; one must lift its hold first`,
        { field: "source", limit: MAX_DRAW_SOURCES },
      );
    }
    if (kw === 0) this.bySource.delete(source);
    else this.bySource.set(source, kw);
    this.totalKw = [...this.bySource.values()].reduce((a, b) => a + b, 0);
    this.record = Object.fromEntries(this.bySource);
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

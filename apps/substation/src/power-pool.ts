import type { Scheduler } from "@evgrid/kit";
import { type Capacity, reshareSite } from "@evgrid/policy";
import { classKey, type OwnSession, PowerClass } from "./power-class.ts";
import type { LiveSession } from "./sessions.ts";

/**
 * A station's power: its active sessions grouped in classes of equal (minKw, maxKw), which water-filling
 * gives one share each, so re-sharing costs O(classes) however many sessions there are. Keeps the sums
 * admission and `getLoad` read, and each class's timer for its next energy goal.
 */
export class PowerPool {
  private readonly classes = new Map<string, PowerClass>();
  /** Sum of the active sessions' minimums: what admission has promised (held-back room included). */
  committedMinKw = 0;
  /**
   * Room admission keeps for sessions whose car takes less than their minimum (setCap's carMaxKw): not
   * shared to anyone's floor, but not promised to a newcomer either, so a restart (each session at its own
   * minimum again until the gateway says otherwise) never has to curtail anyone for it.
   */
  private heldBackKw = 0;
  /** Sum of the active sessions' maximums: what they would take if power were unlimited. */
  demandKw = 0;
  /**
   * The water level of the last re-share: every session has clamp(level, min, max). null: no level binds
   * (everyone has their maximum); 0 when not even the minimums fit (everyone has their minimum).
   */
  levelKw: number | null = null;

  /** `onEnergyDue` is called when a class's earliest energy-based session may have its energy. */
  constructor(
    private readonly onEnergyDue: (cls: PowerClass) => void,
    private readonly scheduler?: Scheduler,
  ) {}

  /**
   * Seconds from the last re-share until time changes the departures' need order (a session's standing
   * changes); +Infinity without departures.
   */
  nextCrossingS = Number.POSITIVE_INFINITY;

  /**
   * The class for this (minKw, maxKw, weight), made if it is new; with `need`, a class of its own for
   * session `own` (a departure).
   */
  classFor(minKw: number, maxKw: number, nowMs: number, weight = 1, own?: OwnSession) {
    let cls = this.classes.get(classKey(minKw, maxKw, weight, own?.id));
    if (!cls) {
      cls = new PowerClass(minKw, maxKw, nowMs, weight, own?.id);
      cls.need = own?.need;
      cls.departAtMs = own?.departAtMs;
      this.classes.set(cls.key, cls);
    }
    return cls;
  }

  /** Sessions lifted above their minimum by their departure's need, by id (for the level event). */
  floors(): Record<string, number> | undefined {
    const out: Record<string, number> = {};
    let any = false;
    for (const cls of this.classes.values()) {
      if (cls.own === undefined || cls.floorKw <= cls.minKw) continue;
      out[cls.own] = cls.floorKw;
      any = true;
    }
    return any ? out : undefined;
  }

  join(live: LiveSession): void {
    live.cls.count += 1;
    live.cls.startKwhSum += live.startKwh;
    if (live.goal) live.cls.addGoal(live.goal);
  }

  /** Sets the room `live` holds back beside its class's minimum (0 when it ends); counted at the next re-share. */
  holdBack(live: LiveSession, kw: number): void {
    this.heldBackKw += kw - (live.heldBackKw ?? 0);
    live.heldBackKw = kw;
  }

  leave(live: LiveSession): void {
    const { cls } = live;
    if (live.goal) live.goal.done = true;
    cls.count -= 1;
    cls.startKwhSum -= live.startKwh;
    if (cls.count === 0) {
      cls.disarm();
      this.classes.delete(cls.key);
    }
  }

  /**
   * Shares `availableKw` again (packages/policy's reshareSite, by class: departures' floors, then
   * water-filling; `guardS` is the departures' guard, CrossingTimer.guardS) after any change, closing each
   * class's energy books first; the sums are recomputed exactly from the classes. Without departures it is
   * exactly today's water-filling.
   */
  reshare(nowMs: number, site: Capacity, guardS = 0): void {
    const classes = [...this.classes.values()];
    for (const cls of classes) cls.accrue(nowMs);
    const demands = classes.map((cls) => ({
      ...cls.need?.(nowMs),
      minKw: cls.minKw,
      maxKw: cls.maxKw,
      weight: cls.weight,
      count: cls.count,
    }));
    const shares = reshareSite(site, demands, guardS);
    this.levelKw = shares.levelKw;
    this.nextCrossingS = shares.nextCrossingS;
    let committed = 0;
    let demand = 0;
    classes.forEach((cls, i) => {
      cls.floorKw = shares.floorsKw[i] as number;
      cls.allocatedKw = shares.sharesKw[i] as number;
      committed += cls.count * cls.minKw;
      demand += cls.count * cls.maxKw;
      cls.arm(nowMs, () => this.onEnergyDue(cls), this.scheduler);
    });
    this.committedMinKw = committed + this.heldBackKw;
    this.demandKw = demand;
  }

  /** Energy active sessions have drawn since they started, as of `nowMs`. O(classes). */
  activeEnergyKwh(nowMs: number): number {
    let kwh = 0;
    for (const cls of this.classes.values()) kwh += cls.count * cls.integralAt(nowMs) - cls.startKwhSum;
    return kwh;
  }

  /** No class timer fires any more (the station is closing). */
  disarm(): void {
    for (const cls of this.classes.values()) cls.disarm();
  }
}

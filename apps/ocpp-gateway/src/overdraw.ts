import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "./metrics.ts";
import type { Tx } from "./model.ts";

export interface OverdrawSettings {
  /** A power reading over the connector's limit for this long (OCPP_OVERDRAW_S, ms), two readings at least... */
  windowMs: number;
  /** ...by more than this share of the limit (OCPP_OVERDRAW_MARGIN_PCT / 100)... */
  marginRatio: number;
  /** ...plus this (OCPP_OVERDRAW_MARGIN_KW): a meter's noise, a car's standby draw. */
  marginKw: number;
  /** The energy register's resolution (OCPP_METER_SLACK_WH): energy over the limits by more is caught. */
  slackWh: number;
}

/** What the check needs of the gateway's books: what a connector counts at, and how to give up on a charger. */
export interface OverdrawBooks {
  /** The most the transaction's connector was counted at since the last call (kW); null if not counted. */
  takePeakKw(tx: Tx): number | null;
  /** Its charger takes no limits from now (counted at its maximum); false if it was known to already. */
  ignoresLimits(tx: Tx): boolean;
}

/** A believed reading: its power (kW) and its energy register (Wh), either or both. */
export interface DrawReading {
  powerKw?: number | undefined;
  energyWh?: number | undefined;
}

/** The energy check's state per transaction: the last register, and the energy drawn beyond the limits. */
interface EnergyState {
  atMs: number;
  wh: number;
  excessWh: number;
}

/**
 * A charger that accepts its limits and draws more (buggy, or hostile) is caught by its own meter, in two
 * ways. Its power: a reading over what its connector may draw (the most it was counted at since the reading
 * before, plus the margins) in every reading for `windowMs`; one within starts the count again (a car
 * ramping down after a lower limit). Its energy register, which a charger cannot make lower without being
 * found out (a register that goes back is not believed): the energy it delivered beyond what its limits
 * allowed, from one reading to the next, summed (never below nothing, so time spent below its limit is not
 * saved up for later); past the register's resolution (`slackWh`) it is caught, however often or rarely it
 * reports, whatever power it claims. Caught, its charger counts as taking no limits, whatever it answers
 * (its sessions pinned at their maximum, stopped if that does not fit). A charger that reports neither
 * power nor energy is not checked (its reclaim treats it as drawing nothing).
 */
export class Overdraws {
  /** Per transaction: since when every power reading has been over its limit. */
  private readonly overSince = new WeakMap<Tx, number>();
  private readonly energy = new WeakMap<Tx, EnergyState>();

  constructor(
    private readonly cfg: OverdrawSettings,
    private readonly books: OverdrawBooks,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A believed reading of the transaction's meter at `nowMs`. */
  check(tx: Tx, nowMs: number, r: DrawReading): void {
    const limitKw = this.books.takePeakKw(tx);
    if (limitKw === null) {
      this.overSince.delete(tx);
      this.energy.delete(tx);
      return;
    }
    const allowedKw = limitKw * (1 + this.cfg.marginRatio) + this.cfg.marginKw;
    const byPower = r.powerKw === undefined ? null : this.power(tx, nowMs, r.powerKw, allowedKw);
    const byEnergy = r.energyWh === undefined ? null : this.register(tx, nowMs, r.energyWh, allowedKw);
    const evidence = byPower ?? byEnergy;
    if (evidence === null || !this.books.ignoresLimits(tx)) return;
    this.metrics.overdraw();
    this.log.warn(
      "a charger draws more than its limit: it takes no limits from now, counted at its maximum",
      {
        chargePointId: tx.chargePointId,
        connectorId: tx.connectorId,
        limitKw,
        ...evidence,
      },
    );
  }

  private power(tx: Tx, nowMs: number, drawKw: number, allowedKw: number) {
    if (drawKw <= allowedKw) {
      this.overSince.delete(tx);
      return null;
    }
    const since = this.overSince.get(tx);
    if (since === undefined) this.overSince.set(tx, nowMs);
    if (since === undefined || nowMs - since < this.cfg.windowMs) return null;
    this.overSince.delete(tx);
    return { drawKw, forMs: nowMs - since };
  }

  private register(tx: Tx, nowMs: number, wh: number, allowedKw: number) {
    const last = this.energy.get(tx);
    if (last === undefined) {
      this.energy.set(tx, { atMs: nowMs, wh, excessWh: 0 });
      return null;
    }
    // kW over ms is W·s: / 3600 is Wh. The limit used is the highest the connector had since the last reading.
    const allowedWh = (allowedKw * (nowMs - last.atMs)) / 3600;
    last.excessWh = Math.max(0, last.excessWh + (wh - last.wh) - allowedWh);
    last.atMs = nowMs;
    last.wh = wh;
    if (last.excessWh <= this.cfg.slackWh) return null;
    const excessWh = last.excessWh;
    last.excessWh = 0;
    return { excessWh };
  }
}

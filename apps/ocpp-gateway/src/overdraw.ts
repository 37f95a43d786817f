import type { Logger } from "@evgrid/kit";
import type { GatewayMetrics } from "./metrics.ts";
import type { Tx } from "./model.ts";
import type { Allowance } from "./site-sums.ts";

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
  /** What the transaction's connector is checked against (site-books.ts); null if it is not counted. */
  allowance(tx: Tx, nowMs: number): Allowance | null;
  /** Its charger takes no limits from now (counted at its maximum); false if it was known to already. */
  ignoresLimits(tx: Tx): boolean;
}

/** A believed reading: its power (kW) and its energy register (Wh), either or both. */
export interface DrawReading {
  powerKw?: number | undefined;
  energyWh?: number | undefined;
}

/** A connector's key: what is judged goes on across its transactions. */
const connectorKey = (tx: Tx) => `${tx.chargePointId}\u0000${tx.connectorId}`;

/** How long what a reading left unused may pay for the readings after it (a burst of queued ones). */
const CREDIT_MS = 30_000;

/** Where the register was last, and the energy the books had allowed by then (Wh), in which entry of theirs. */
interface Mark {
  atMs: number;
  wh: number;
  allowedWh: number;
  openedAtMs: number;
  connection: number;
}

/** Per connector: energy drawn beyond its limits so far, and the last reading's unused allowance. */
interface Excess {
  wh: number;
  creditWh: number;
  creditUntilMs: number;
}

/**
 * A charger that accepts its limits and draws more (buggy, or hostile) is caught by its own meter, in two
 * ways. Its power: a reading over what its connector may draw (the most it was counted at since the reading
 * before, plus the margins) in every reading for `windowMs`; one within starts the count again (a car
 * ramping down after a lower limit). Its energy register, which a charger cannot lower without being found
 * out (a register that goes back is not believed): from one reading to the next, the energy it delivered
 * against what the books allowed it over that time (each limit for as long as it was in force, plus the
 * margins); the energy beyond is summed per connector (a new transaction does not start it again), never
 * below nothing (time below its limit is not saved up for later), and past the register's resolution
 * (`slackWh`) it is caught, however often it reports and whatever power it claims. One exception: what a
 * reading after its charger came back left unused may pay for what the next ones report within 30 s
 * (`windowMs` if shorter): a charger sends the readings it queued while offline in a burst. Only then: a
 * charger that reported nothing for a while and then reports energy ahead of drawing it is caught. Caught, its charger counts as taking no limits, whatever it answers
 * (its sessions pinned at their maximum, stopped if that does not fit). A charger that reports neither power
 * nor energy is not checked (its reclaim treats it as drawing nothing).
 */
export class Overdraws {
  /**
   * Per connector: since when every power reading has been over its limit. A new transaction goes on from it
   * (a charger ending and reopening its transaction every few seconds must not start the count again: a
   * hostile-charger probe drew 11 kW under 8 for ten windows that way). Removed at a reading within.
   */
  private readonly overSince = new Map<string, { since: number; lastAtMs: number; transactionId: string }>();
  private readonly marks = new WeakMap<Tx, Mark>();
  /**
   * Per connector that drew beyond its limits or has a credit running (one with neither is not kept): at
   * most one entry per connector that reports, removed when it has neither at its next reading.
   */
  private readonly excess = new Map<string, Excess>();

  constructor(
    private readonly cfg: OverdrawSettings,
    private readonly books: OverdrawBooks,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** A believed reading of the transaction's meter at `nowMs`. */
  check(tx: Tx, nowMs: number, r: DrawReading): void {
    const allowance = this.books.allowance(tx, nowMs);
    if (allowance === null) {
      this.overSince.delete(connectorKey(tx));
      this.marks.delete(tx);
      return;
    }
    const limitKw = allowance.peakW / 1000;
    const byPower = r.powerKw === undefined ? null : this.power(tx, nowMs, r.powerKw, limitKw);
    const byEnergy = r.energyWh === undefined ? null : this.register(tx, nowMs, r.energyWh, allowance);
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

  private power(tx: Tx, nowMs: number, drawKw: number, limitKw: number) {
    const key = connectorKey(tx);
    if (drawKw <= limitKw * (1 + this.cfg.marginRatio) + this.cfg.marginKw) {
      this.overSince.delete(key);
      return null;
    }
    const over = this.overSince.get(key);
    // Another transaction's, and more than a window ago (a car that left over its limit, hours before the
    // next one came): the count starts again (a review).
    const stale =
      over && over.transactionId !== tx.transactionId && nowMs - over.lastAtMs > this.cfg.windowMs;
    const since = over && !stale ? over.since : nowMs;
    this.overSince.set(key, { since, lastAtMs: nowMs, transactionId: tx.transactionId });
    if (nowMs - since < this.cfg.windowMs || since === nowMs) return null;
    this.overSince.delete(key);
    return { drawKw, forMs: nowMs - since };
  }

  private register(tx: Tx, nowMs: number, wh: number, a: Allowance) {
    const { openedAtMs, connection } = a;
    if (!Number.isFinite(wh) || !Number.isFinite(a.allowedWh)) return null;
    const mark: Mark = { atMs: nowMs, wh, allowedWh: a.allowedWh, openedAtMs, connection };
    // The first reading: judged from the start of the transaction if its connector entered the books then
    // (not if it was restored after a restart, with no allowance for the time before), else a start itself;
    // so is one after its connector entered the books again (its allowance counts from then).
    const before = this.marks.get(tx);
    const last =
      before?.openedAtMs === openedAtMs
        ? before
        : before === undefined && tx.meterStartWh !== null && Math.abs(openedAtMs - tx.startedAtMs) <= 5000
          ? { atMs: openedAtMs, wh: tx.meterStartWh, allowedWh: 0, openedAtMs, connection }
          : mark;
    this.marks.set(tx, mark);
    // The clock stepped back: this reading is a start again, nothing judged across the step.
    if (nowMs < last.atMs || a.allowedWh < last.allowedWh) return null;
    const key = connectorKey(tx);
    const e = this.excess.get(key) ?? { wh: 0, creditWh: 0, creditUntilMs: 0 };
    const allowedWh =
      (a.allowedWh - last.allowedWh) * (1 + this.cfg.marginRatio) +
      (this.cfg.marginKw * (nowMs - last.atMs)) / 3600; // kW over ms is W·s
    const overWh = wh - last.wh - allowedWh;
    if (overWh < 0) {
      // Below its limits: what it drew beyond them before goes first; what is left may pay for a while (the
      // larger of this and a credit still running: a repeated register must not cut a burst's credit short).
      const drained = Math.min(e.wh, -overWh);
      e.wh -= drained;
      const creditWh = -overWh - drained;
      const back = connection !== last.connection;
      if (back && (nowMs > e.creditUntilMs || creditWh >= e.creditWh)) {
        e.creditWh = creditWh;
        e.creditUntilMs = nowMs + Math.min(this.cfg.windowMs, CREDIT_MS);
      }
    } else {
      const paid = nowMs <= e.creditUntilMs ? Math.min(overWh, e.creditWh) : 0;
      e.creditWh -= paid;
      e.wh += overWh - paid;
    }
    if (e.wh > this.cfg.slackWh) {
      this.excess.delete(key);
      return { excessWh: e.wh };
    }
    if (e.wh === 0 && nowMs > e.creditUntilMs) this.excess.delete(key);
    else this.excess.set(key, e);
    return null;
  }
}

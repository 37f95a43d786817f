import { errorDataOf } from "@evgrid/contract";
import type { Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import {
  addSample,
  checkMeterReading,
  type MeterPoint,
  plausibleRegister,
  type ReclaimSettings,
  reclaimCap,
} from "@evgrid/policy";
import type { Caps } from "./caps.ts";
import type { ChargerTable } from "./chargers.ts";
import type { Grid } from "./grid.ts";
import { LatestWins } from "./latest-wins.ts";
import { type GatewayMetrics, writeRegistry } from "./metrics.ts";
import type { EvNeeds, MeterReading, Tx } from "./model.ts";
import { type OverdrawSettings, Overdraws } from "./overdraw.ts";
import type { Power } from "./power.ts";
import type { Registry } from "./registry.ts";

/**
 * Meter readings: the energy delivered goes to the session's substation (reportMeter), and a vehicle that
 * draws well below its share for a while is capped near its draw so the rest goes to the others (reclaim).
 */
export interface MeterSettings {
  reclaim: ReclaimSettings;
  /** Slack on what a connector could have delivered (a register's resolution). */
  slackWh: number;
  /** A meter silent this long counts as drawing nothing. */
  silentMs: number;
  /** Draw samples kept per transaction inside the reclaim window at most (closer ones are merged). */
  maxSamples: number;
  /** The least time between two passings-on of one transaction's needs (OCPP_NEEDS_MIN_GAP_MS). */
  needsMinGapMs: number;
  /** A charger drawing more than its limit takes no limits (overdraw.ts; the register's slack is slackWh). */
  overdraw: Omit<OverdrawSettings, "slackWh">;
}

export class Meters {
  /** The needs last passed on per transaction, so a repeat is not sent again. */
  private readonly neededSent = new WeakMap<Tx, string>();
  /** One reportMeter and one setSessionNeeds in flight per transaction, the newest waiting (a flood). */
  private readonly reports = new LatestWins<Tx>();
  private readonly needsCalls = new LatestWins<Tx>();
  /** The needs a transaction's car asked last and its car's maximum changed, until the next flush. */
  private readonly wanted = new WeakMap<Tx, { energyKwh: number; departAtMs?: number }>();
  private readonly capWanted = new WeakSet<Tx>();
  /** Per transaction: when its needs last went, and the flush waiting for needsMinGapMs to pass. */
  private readonly flushes = new WeakMap<Tx, { atMs: number; timer: Timer | undefined }>();
  /** Timed sessions whose car's needs make them energy-based: bounded in time once the grid has taken them. */
  private readonly madeEnergyBased = new WeakSet<Tx>();
  /** A report that had to wait behind another: the transaction's end waits for it (its final energy). */
  private readonly lateReport = new WeakMap<Tx, Promise<void>>();
  private readonly silence: ReturnType<typeof setInterval>;
  private readonly overdraws: Overdraws;

  constructor(
    private readonly table: ChargerTable,
    private readonly grid: Grid,
    private readonly registry: Registry,
    private readonly power: Power,
    private readonly caps: Caps,
    private readonly cfg: MeterSettings,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    /**
     * A timed session (a walk-in, a timed booking) its car's needs made energy-based, started at
     * `startedAtMs`: its time ends it no more, so it gets the bound every energy session at a charger has.
     */
    private readonly onEnergyBased: (tx: Tx, startedAtMs: number) => void = () => {},
  ) {
    const everyMs = Math.max(100, Math.min(cfg.silentMs, cfg.reclaim.windowMs) / 2);
    this.silence = setInterval(() => this.sweepSilent(Date.now()), everyMs);
    this.silence.unref?.();
    this.overdraws = new Overdraws({ ...cfg.overdraw, slackWh: cfg.slackWh }, power, metrics, log);
  }

  /** A reading: believed (monotonic, within what the connector could deliver), or ignored and counted. */
  read(tx: Tx, r: MeterReading): void {
    const now = Date.now();
    const maxKw = this.table.get(tx.chargePointId)?.cp.maxKw ?? 0;
    let powerW = r.powerW;
    // A draw no connector of this charge point could have (10 % over its maximum allowed).
    if (powerW !== undefined && !(powerW >= 0 && powerW <= maxKw * 1100)) {
      this.metrics.meterImplausible("power");
      powerW = undefined;
    }
    let drawW = powerW;
    if (r.energyWh !== undefined) {
      // A reading whose register is not believed is not believed at all (its power neither).
      if (!this.energy(tx, { wh: r.energyWh, atMs: now }, maxKw)) return;
      drawW ??= this.drawFromEnergy(tx, now);
    }
    if (drawW === undefined && r.energyWh === undefined) return;
    tx.lastReadingAtMs = now;
    const powerKw = powerW === undefined ? undefined : powerW / 1000;
    this.overdraws.check(tx, now, { powerKw, energyWh: r.energyWh }); // waiting at 0 W too
    if (drawW === undefined || !Number.isFinite(drawW)) return;
    this.sample(tx, now, drawW / 1000);
  }

  close(): void {
    clearInterval(this.silence);
  }

  /** The energy register: checked, then kept and reported. False if it was not believed. */
  private energy(tx: Tx, reading: MeterPoint, maxKw: number): boolean {
    if (tx.meterStartWh === null) {
      // No register known yet: this reading is the start, if it can be a meter's at all.
      if (!plausibleRegister(reading.wh)) return this.implausible("meter_start");
      tx.meterStartWh = reading.wh;
      writeRegistry(this.metrics, this.log, "could not record a meter's start", () =>
        this.registry.setMeterStart(tx.chargePointId, tx.transactionId, reading.wh),
      );
    }
    const start = { wh: tx.meterStartWh, atMs: tx.startedAtMs };
    const verdict = checkMeterReading(reading, tx.lastEnergy ?? start, start, maxKw, this.cfg.slackWh);
    if (verdict !== "ok") return this.implausible(verdict);
    tx.previousEnergy = tx.lastEnergy;
    tx.lastEnergy = reading;
    if (tx.phase.state === "charging") this.report(tx, tx.phase.sessionId, reading.wh - start.wh);
    return true;
  }

  private drawFromEnergy(tx: Tx, now: number): number | undefined {
    const prev = tx.previousEnergy;
    const last = tx.lastEnergy;
    if (!prev || !last || now - prev.atMs < 1000) return undefined;
    return ((last.wh - prev.wh) * 3_600_000) / (now - prev.atMs);
  }

  private sample(tx: Tx, now: number, drawKw: number): void {
    if (tx.phase.state !== "charging") return;
    const sample = { atMs: now, drawKw: Math.max(0, drawKw) };
    addSample(tx.samples, sample, this.cfg.reclaim.windowMs, this.cfg.maxSamples);
    this.reclaim(tx, now);
  }

  /** A meter silent past OCPP_METER_SILENT_S counts as drawing nothing: reclaim applies to it. */
  private sweepSilent(now: number): void {
    for (const [, tx] of this.table.boundSessions()) {
      if (tx.phase.state === "charging" && now - tx.lastReadingAtMs >= this.cfg.silentMs)
        this.sample(tx, now, 0);
    }
  }

  private implausible(reason: "backwards" | "too_fast" | "meter_start"): false {
    this.metrics.meterImplausible(reason);
    return false;
  }

  /** Power taken back from vehicles drawing less than their share (the reclaimed-power gauge). */
  reclaimedKw(): number {
    let kw = 0;
    for (const [, tx] of this.table.boundSessions()) {
      if (tx.phase.state !== "charging" || tx.phase.reclaimKw === null) continue;
      const { limits, chargePointKw, reclaimKw } = tx.phase;
      kw += Math.max(0, Math.min(limits.maxKw, chargePointKw ?? Number.POSITIVE_INFINITY) - reclaimKw);
    }
    return kw;
  }

  /**
   * What the car needs (NotifyEVChargingNeeds): its maximum caps its session (setSessionCap, with the
   * charge point's share); its energy and departure go to the session at its substation. False if the
   * transaction is not bound to a session yet (the car may send them again). Passed on at once, and then at
   * most once per needsMinGapMs (the newest, nothing lost): a charger sending them as fast as its
   * substation answers costs it a journal write and re-shares (and every charger of the site new
   * profiles) per interval, not per message.
   */
  needs(tx: Tx, e: EvNeeds): boolean {
    if (tx.phase.state !== "charging") return false;
    if (e.maxKw !== undefined && e.maxKw !== tx.phase.evMaxKw) {
      tx.phase.evMaxKw = e.maxKw;
      this.capWanted.add(tx);
    }
    // A departure alone (a DC car's energy is optional) goes with its session's energy: its booking's, or
    // the last the car asked for. With none (a timed walk-in) it is refused (a departure needs an energy),
    // though its maximum, a safety matter, still caps it.
    const energyKwh =
      e.energyKwh ?? (e.departAtMs === undefined ? undefined : (tx.phase.energyKwh ?? undefined));
    const site = this.grid.site(tx.substationId);
    const taken = !site || energyKwh !== undefined || e.departAtMs === undefined;
    if (energyKwh !== undefined && site) {
      if (tx.phase.energyKwh === null) this.madeEnergyBased.add(tx);
      tx.phase.energyKwh = energyKwh;
      // A departure not said again is the one asked before (or the session's own): as if sent one by one.
      const departAtMs = e.departAtMs ?? this.wanted.get(tx)?.departAtMs;
      this.wanted.set(tx, { energyKwh, ...(departAtMs === undefined ? {} : { departAtMs }) });
    }
    this.flushSoon(tx);
    return taken;
  }

  /** The transaction's needs go now, or needsMinGapMs after they last went (one flush waiting). */
  private flushSoon(tx: Tx): void {
    const slot = this.flushes.get(tx) ?? { atMs: Number.NEGATIVE_INFINITY, timer: undefined };
    this.flushes.set(tx, slot);
    if (slot.timer !== undefined) return; // the one waiting sends the newest
    const waitMs = slot.atMs + this.cfg.needsMinGapMs - Date.now();
    if (waitMs <= 0) {
      this.flush(tx, slot);
      return;
    }
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      this.flush(tx, slot);
    }, waitMs);
    slot.timer.unref?.();
  }

  private flush(tx: Tx, slot: { atMs: number }): void {
    slot.atMs = Date.now();
    if (tx.phase.state !== "charging" || !this.table.isCurrent(tx)) return;
    if (this.capWanted.delete(tx)) void this.caps.sync(tx);
    const want = this.wanted.get(tx);
    const site = this.grid.site(tx.substationId);
    this.wanted.delete(tx);
    if (!want || !site) return;
    const { sessionId } = tx.phase;
    const { energyKwh } = want;
    // The same needs again (a charger repeating itself, or hostile) cost no journal write and no re-share.
    const key = `${sessionId}|${energyKwh}|${want.departAtMs ?? ""}`;
    if (this.neededSent.get(tx) === key) return;
    this.neededSent.set(tx, key);
    const departAt =
      want.departAtMs === undefined ? {} : { departAt: new Date(want.departAtMs).toISOString() };
    void this.needsCalls.run(tx, () =>
      site.setSessionNeeds.mutate({ sessionId, energyKwh, ...departAt }).then(
        (session) => {
          this.log.info("the car's needs were taken", { sessionId, energyKwh, ...departAt });
          if (this.madeEnergyBased.delete(tx)) this.onEnergyBased(tx, Date.parse(session.startedAt));
        },
        (err) => {
          if (this.neededSent.get(tx) === key) this.neededSent.delete(tx); // sent again next time
          this.log.warn("could not pass on the car's needs", { sessionId, error: describeFailure(err) });
          if (errorDataOf(err)?.reason !== undefined) return; // refused: they would be refused again
          // No answer (a timeout, a link gone): the substation may or may not have taken them, and the car
          // may never send them again. Sent again (the same needs twice are the needs once) after the gap,
          // unless newer ones wait; and bounded in time from the transaction's start, as if taken.
          if (!this.wanted.has(tx)) this.wanted.set(tx, want);
          this.flushSoon(tx);
          if (this.madeEnergyBased.delete(tx)) this.onEnergyBased(tx, tx.startedAtMs);
        },
      ),
    );
  }

  private report(tx: Tx, sessionId: string, deliveredWh: number): void {
    const site = this.grid.site(tx.substationId);
    if (!site) return;
    const energyKwh = Math.max(0, deliveredWh / 1000);
    // The register is cumulative: a report waiting behind a running one is replaced by a newer one.
    const late = this.reports.busy(tx);
    const sent = this.reports.run(tx, () =>
      site.reportMeter.mutate({ sessionId, energyKwh }).then(
        () => this.metrics.meterReport("ok"),
        (err) => {
          // The next reading carries the whole register again: a lost report is only late.
          this.metrics.meterReport("failed");
          this.log.warn("could not report a meter reading", { sessionId, error: describeFailure(err) });
        },
      ),
    );
    if (late) this.lateReport.set(tx, sent);
    else this.lateReport.delete(tx);
  }

  /**
   * Resolves once the last reading's report has gone, if it had to wait behind another (a charger reporting
   * faster than its substation answers); undefined otherwise. A stop waits for it, so the session's final
   * energy is not reported after its end.
   */
  reportWaiting(tx: Tx): Promise<void> | undefined {
    return this.lateReport.get(tx);
  }

  private reclaim(tx: Tx, now: number): void {
    if (tx.phase.state !== "charging") return;
    const { limits, chargePointKw, reclaimKw } = tx.phase;
    if (limits.pinned) return; // its charger takes no limits: a cap would only be a fiction
    // Its share of the charge point is a cap of its own, not a reclaim: reclaim works below it.
    const maxKw = Math.min(limits.maxKw, chargePointKw ?? Number.POSITIVE_INFINITY);
    const decision = reclaimCap(
      tx.samples,
      now,
      { minKw: limits.minKw, maxKw, capKw: reclaimKw, allocatedKw: this.power.powerOf(tx) },
      this.cfg.reclaim,
    );
    if (decision === undefined || decision === reclaimKw) return;
    tx.phase.reclaimKw = decision;
    void this.caps.sync(tx);
  }
}

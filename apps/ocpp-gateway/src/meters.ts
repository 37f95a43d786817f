import { describeFailure, type Logger } from "@evgrid/kit";
import { type ReclaimSettings, reclaimCap, trimSamples } from "@evgrid/policy";
import type { Caps } from "./caps.ts";
import type { ChargerTable } from "./chargers.ts";
import type { Grid } from "./grid.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { MeterReading, Tx } from "./model.ts";
import type { Power } from "./power.ts";

/**
 * Meter readings: the energy delivered goes to the session's substation (reportMeter), and a vehicle that
 * draws well below its share for a while is capped near its draw so the rest goes to the others (reclaim).
 */
export class Meters {
  constructor(
    private readonly table: ChargerTable,
    private readonly grid: Grid,
    private readonly power: Power,
    private readonly caps: Caps,
    private readonly reclaimSettings: ReclaimSettings,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  read(tx: Tx, r: MeterReading): void {
    const now = Date.now();
    let drawW = r.powerW;
    if (r.energyWh !== undefined && Number.isFinite(r.energyWh)) {
      const prev = tx.lastEnergy;
      if (drawW === undefined && prev && now - prev.atMs >= 1000) {
        drawW = ((r.energyWh - prev.wh) * 3_600_000) / (now - prev.atMs);
      }
      tx.lastEnergy = { wh: r.energyWh, atMs: now };
      if (tx.phase.state === "charging") this.report(tx, tx.phase.sessionId, r.energyWh);
    }
    if (drawW === undefined || !Number.isFinite(drawW) || tx.phase.state !== "charging") return;
    tx.samples.push({ atMs: now, drawKw: Math.max(0, drawW / 1000) });
    trimSamples(tx.samples, now, this.reclaimSettings.windowMs);
    this.reclaim(tx, now);
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

  private report(tx: Tx, sessionId: string, energyWh: number): void {
    const site = this.grid.site(tx.substationId);
    if (!site) return;
    const energyKwh = Math.max(0, (energyWh - tx.meterStartWh) / 1000);
    void site.reportMeter.mutate({ sessionId, energyKwh }).then(
      () => this.metrics.meterReport("ok"),
      (err) => {
        // The next reading carries the whole register again: a lost report is only late.
        this.metrics.meterReport("failed");
        this.log.warn("could not report a meter reading", { sessionId, error: describeFailure(err) });
      },
    );
  }

  private reclaim(tx: Tx, now: number): void {
    if (tx.phase.state !== "charging") return;
    const { limits, chargePointKw, reclaimKw } = tx.phase;
    // Its share of the charge point is a cap of its own, not a reclaim: reclaim works below it.
    const maxKw = Math.min(limits.maxKw, chargePointKw ?? Number.POSITIVE_INFINITY);
    const decision = reclaimCap(
      tx.samples,
      now,
      { minKw: limits.minKw, maxKw, capKw: reclaimKw, allocatedKw: this.power.powerOf(tx) },
      this.reclaimSettings,
    );
    if (decision === undefined || decision === reclaimKw) return;
    tx.phase.reclaimKw = decision;
    void this.caps.sync(tx);
  }
}

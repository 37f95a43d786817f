import { shareAtLevel } from "@evgrid/policy";
import type { ChargerTable } from "./chargers.ts";
import type { Tx } from "./model.ts";
import type { Pusher } from "./pusher.ts";

/**
 * From the substations' water levels to each transaction's limit: a level event re-computes the power of the
 * transactions at that substation only, and hands each to the pusher.
 */
export class Power {
  private readonly levels = new Map<string, { levelKw: number | null; version: number }>();
  private levelSeq = 0;

  constructor(
    private readonly table: ChargerTable,
    private readonly pusher: Pusher,
  ) {}

  /** A substation's new water level: every transaction there gets its share. */
  onLevel(substationId: string, levelKw: number | null, atMs: number): void {
    // Counted here, not by the substation's own version (which starts again when it restarts).
    this.levels.set(substationId, { levelKw, version: ++this.levelSeq });
    for (const ch of this.table.atSubstation(substationId)) {
      for (const tx of ch.txs.values()) if (tx.phase.state === "charging") this.push(tx, atMs);
    }
  }

  /** The version of the substation's level now: an admission answer is newer than it, a later level is not. */
  levelVersion(substationId: string): number {
    return this.levels.get(substationId)?.version ?? -1;
  }

  /** The power a transaction's charger should be given now, in kW. */
  powerOf(tx: Tx): number {
    const ch = this.table.get(tx.chargePointId);
    if (!ch || tx.phase.state !== "charging") return 0;
    const { limits, admittedKw, levelVersion } = tx.phase;
    const level = this.levels.get(tx.substationId);
    const kw =
      level && level.version > levelVersion
        ? shareAtLevel(
            { minKw: limits.minKw, maxKw: limits.capKw ?? limits.maxKw, weight: limits.weight },
            level.levelKw,
          )
        : admittedKw;
    return Math.min(kw, ch.cp.maxKw);
  }

  /** Tells the charger its transaction's power now (0 W while waiting); nothing while it is being decided. */
  push(tx: Tx, sinceMs: number): void {
    const ch = this.table.get(tx.chargePointId);
    if (!ch?.link || ch.cp.bootedAt === null) return;
    if (tx.phase.state !== "charging" && tx.phase.state !== "waiting") return;
    const target = {
      chargePointId: tx.chargePointId,
      substationId: tx.substationId,
      connectorId: tx.connectorId,
      transactionId: tx.transactionId,
    };
    this.pusher.want(target, Math.round(this.powerOf(tx) * 1000), sinceMs);
  }
}

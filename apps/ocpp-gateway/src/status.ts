import { type ChargerTable, sessionOf, stateOf } from "./chargers.ts";
import type { TxState } from "./model.ts";
import type { Pusher } from "./pusher.ts";
import type { ChargePoint } from "./registry.ts";

/** What operators see of the chargers (listChargePoints, the transactions gauge). Reads only. */
export class Status {
  constructor(
    private readonly table: ChargerTable,
    private readonly pusher: Pusher,
  ) {}

  of(cp: ChargePoint) {
    const ch = this.table.get(cp.chargePointId);
    const connectors = [...(ch?.connectors ?? [])]
      .map(([connectorId, status]): { connectorId: number; status: string | null } => ({
        connectorId,
        status,
      }))
      .sort((a, b) => a.connectorId - b.connectorId);
    const transactions = [...(ch?.txs.values() ?? [])].map((tx) => ({
      connectorId: tx.connectorId,
      transactionId: tx.transactionId,
      vehicleId: tx.vehicleId,
      sessionId: sessionOf(tx),
      state: stateOf(tx),
      profileW: this.pusher.lastSent(cp.chargePointId, tx.connectorId),
      capKw: tx.phase.state === "charging" ? tx.phase.limits.capKw : null,
    }));
    return {
      connected: Boolean(ch?.link),
      /** false: it rejects limits or does not answer, and is counted at its maximum. */
      managed: this.pusher.isManaged(cp.chargePointId),
      /** What its substation's chargers are held to in sum (W): the effective capacity the gateway last heard. */
      substationBudgetW: this.pusher.budgetW(cp.substationId),
      protocol: ch?.link ? ch.link.protocol : null,
      /** What it answered when asked at its boot to report its meter ("Accepted"...); null: not asked. */
      meterReports: ch?.meterReports ?? null,
      connectedAt: ch?.connectedAt ? new Date(ch.connectedAt).toISOString() : null,
      connectors,
      transactions,
    };
  }

  txCounts(): Record<TxState, number> {
    const counts: Record<TxState, number> = {
      charging: 0,
      waiting: 0,
      binding: 0,
      unidentified: 0,
      stopping: 0,
    };
    for (const ch of this.table.all()) for (const tx of ch.txs.values()) counts[stateOf(tx)]++;
    return counts;
  }
}

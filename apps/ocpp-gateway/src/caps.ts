import { describeFailure, type Logger } from "@evgrid/kit";
import type { Grid } from "./grid.ts";
import type { Tx } from "./model.ts";

/**
 * A bound session's cap at its substation (setSessionCap): the lower of its share of the charge point's
 * maximum and a reclaim. The cap is recorded at once (optimistic), so a burst of readings asks once; a
 * refusal puts the old one back.
 */
export class Caps {
  constructor(
    private readonly grid: Grid,
    private readonly log: Logger,
  ) {}

  /** The cap the transaction's session should have now (null: none, its own maximum). */
  desired(tx: Tx): number | null {
    if (tx.phase.state !== "charging") return null;
    const { chargePointKw, reclaimKw, limits } = tx.phase;
    const kw = Math.min(chargePointKw ?? Number.POSITIVE_INFINITY, reclaimKw ?? Number.POSITIVE_INFINITY);
    return kw < limits.maxKw ? kw : null;
  }

  /** Whether bringing the session to its desired cap lowers its power (those go first). */
  lowers(tx: Tx): boolean {
    if (tx.phase.state !== "charging") return false;
    const { limits } = tx.phase;
    return (this.desired(tx) ?? limits.maxKw) < (limits.capKw ?? limits.maxKw);
  }

  /** Brings the session's cap at its substation to the desired one; resolves once the substation answered. */
  async sync(tx: Tx): Promise<void> {
    const site = this.grid.site(tx.substationId);
    if (!site || tx.phase.state !== "charging") return;
    const capKw = this.desired(tx);
    const { sessionId, limits } = tx.phase;
    if (capKw === limits.capKw) return;
    const previous = limits.capKw;
    limits.capKw = capKw;
    try {
      await site.setSessionCap.mutate({ sessionId, capKw });
      this.log.info("session cap changed", { sessionId, capKw });
    } catch (err) {
      if (limits.capKw === capKw) limits.capKw = previous;
      this.log.warn("could not change the session's cap", { error: describeFailure(err) });
    }
  }
}

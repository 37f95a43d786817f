import { describeFailure, type Logger } from "@evgrid/kit";
import type { Grid } from "./grid.ts";
import type { Tx } from "./model.ts";

/**
 * A bound session's cap at its substation (setSessionCap): the charge point's own maximum, or a reclaim. The
 * cap is recorded at once (optimistic), so a burst of readings asks once; a refusal puts the old one back.
 */
export class Caps {
  constructor(
    private readonly grid: Grid,
    private readonly log: Logger,
  ) {}

  set(tx: Tx, capKw: number | null): void {
    const site = this.grid.site(tx.substationId);
    if (!site || tx.phase.state !== "charging") return;
    const { sessionId, limits } = tx.phase;
    const previous = limits.capKw;
    limits.capKw = capKw;
    void site.setSessionCap.mutate({ sessionId, capKw }).then(
      () => this.log.info("session cap changed", { sessionId, capKw }),
      (err) => {
        if (limits.capKw === capKw) limits.capKw = previous;
        this.log.warn("could not change the session's cap", { error: describeFailure(err) });
      },
    );
  }
}

import { errorDataOf } from "@evgrid/contract";
import { describeFailure, type Logger } from "@evgrid/kit";
import type { Grid } from "./grid.ts";
import type { Tx } from "./model.ts";

/** Refusals of a pin: the charger's maximum does not fit beside the others' minimums. */
const NO_ROOM = new Set(["INSUFFICIENT_CAPACITY", "OPERATOR_LIMIT"]);

/**
 * A bound session's cap at its substation (setSessionCap): the charge point's own maximum, or a reclaim; and
 * its pin, while its charger takes no limits. The cap is recorded at once (optimistic), so a burst of
 * readings asks once; a refusal puts the old one back.
 */
export class Caps {
  constructor(
    private readonly grid: Grid,
    private readonly log: Logger,
    /** A session whose charger takes no limits, and whose maximum does not fit: it must stop. */
    private readonly onPinRefused: (tx: Tx) => void,
  ) {}

  set(tx: Tx, capKw: number | null): void {
    const site = this.grid.site(tx.substationId);
    if (!site || tx.phase.state !== "charging") return;
    const { sessionId, limits } = tx.phase;
    const previous = limits.capKw;
    limits.capKw = capKw;
    const pinned = limits.pinned ?? false;
    void site.setSessionCap.mutate({ sessionId, capKw, pinned }).then(
      () => this.log.info("session cap changed", { sessionId, capKw }),
      (err) => {
        if (limits.capKw === capKw) limits.capKw = previous;
        this.log.warn("could not change the session's cap", { error: describeFailure(err) });
      },
    );
  }

  /**
   * Once bound: capped at the charge point's maximum if the session asked for more, and pinned at that
   * maximum if the charger takes no limits (so the others' shares leave room for what it may draw).
   */
  bound(tx: Tx, chargePointMaxKw: number, managed: boolean): void {
    if (tx.phase.state !== "charging") return;
    const { limits } = tx.phase;
    const over =
      limits.maxKw > chargePointMaxKw && (limits.capKw === null || limits.capKw > chargePointMaxKw);
    if (!managed) this.pin(tx, chargePointMaxKw, true);
    else if (over) this.set(tx, chargePointMaxKw);
  }

  /** Pinned at its maximum (a reclaim cap is dropped), or back to an ordinary share. */
  pin(tx: Tx, chargePointMaxKw: number, pinned: boolean): void {
    const site = this.grid.site(tx.substationId);
    if (!site || tx.phase.state !== "charging") return;
    const { sessionId, limits } = tx.phase;
    if ((limits.pinned ?? false) === pinned) return;
    const capKw = limits.maxKw > chargePointMaxKw ? chargePointMaxKw : null;
    limits.pinned = pinned;
    limits.capKw = capKw;
    void site.setSessionCap.mutate({ sessionId, capKw, pinned }).then(
      () => this.log.info(pinned ? "session pinned at its maximum" : "session unpinned", { sessionId }),
      (err) => {
        if (pinned && NO_ROOM.has(errorDataOf(err)?.reason ?? "")) {
          this.log.warn("a charger that takes no limits does not fit at its maximum; stopping it", {
            sessionId,
          });
          this.onPinRefused(tx);
          return;
        }
        if (limits.pinned === pinned) limits.pinned = !pinned; // asked again on its next change
        this.log.warn("could not pin the session", { sessionId, error: describeFailure(err) });
      },
    );
  }
}

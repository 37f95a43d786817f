import { errorDataOf, reasons } from "@evgrid/contract";
import { Backoff, type Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import { z } from "zod";
import type { ChargerTable } from "./chargers.ts";
import type { Ends } from "./ends.ts";
import type { Grid } from "./grid.ts";
import { type GatewayMetrics, writeRegistry } from "./metrics.ts";
import type { Tx } from "./model.ts";
import type { Registry } from "./registry.ts";
import type { Claim } from "./walk-in.ts";

/**
 * What became of a claimed booking: released as `moved` (it goes on here); ended otherwise before it could
 * be (the car is a walk-in like any idTag that claims no booking); refused for good (it stays where it is
 * booked, and the transaction is stopped: a walk-in too would be a second session of one car); or the car
 * left.
 */
export type Released = "moved" | "not-moved" | "refused" | "gone";

/** A claim as the registry keeps it (the gateway's own JSON): anything else is no claim. */
const claimSchema = z.object({
  vehicleId: z.string(),
  end: z.union([
    z.object({ durationS: z.number() }),
    z.object({ energyKwh: z.number(), departAt: z.string().optional() }),
  ]),
  booking: z.object({ owner: z.string(), sessionId: z.string() }),
});

/** The claim a transaction's registry row recorded, or null. */
export function claimOf(recorded: string | null): Claim | null {
  if (recorded === null) return null;
  try {
    return claimSchema.parse(JSON.parse(recorded));
  } catch {
    return null;
  }
}

/**
 * A booking claimed at a charger of another substation, released there (`moved`) before the session that
 * goes on with it is admitted here. From the release on, nothing finds the booking by its idTag (only active
 * sessions are indexed): what the gateway knew of it (owner, energy left, departure) is all there is. So the
 * claim is recorded with its transaction first (a restarted gateway goes on with it), and a release whose
 * answer is lost is asked again (a stop is idempotent: an ended session is answered as it is) rather than
 * the idTag looked up again, which would find nothing and take the car for the operator's walk-in.
 */
export class Moves {
  constructor(
    private readonly table: ChargerTable,
    private readonly grid: Grid,
    private readonly registry: Registry,
    private readonly ends: Ends,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Records the claim, then releases the booking until the grid answers (or the transaction ends); a
   * release the grid refuses as malformed is not retried: its transaction is stopped.
   */
  async release(tx: Tx, claim: Claim, retry: { delayMs: number; maxDelayMs: number }): Promise<Released> {
    writeRegistry(this.metrics, this.log, "could not record a claimed booking", () =>
      this.registry.recordClaim(tx.chargePointId, tx.transactionId, JSON.stringify(claim)),
    );
    const { sessionId } = claim.booking;
    const backoff = new Backoff(retry);
    while (this.table.isCurrent(tx)) {
      try {
        // Where it goes on is kept with its end: the booking's owner follows it there in one call.
        const release = { sessionId, reason: "moved" as const, movedToSubstationId: tx.substationId };
        const left = await this.grid.balancers.call((b) => b.stopSession.mutate(release));
        // Ended otherwise before this release (its owner stopped it, its departure came): it goes on nowhere.
        if (left.endReason !== "moved") return "not-moved";
        this.log.info("booking claimed at another substation; released there", { sessionId });
        return "moved";
      } catch (err) {
        const data = errorDataOf(err);
        // Its substation has forgotten it: nothing to go on with.
        if (data?.reason === reasons.SESSION_NOT_FOUND) return "not-moved";
        // The grid cannot read this release (a claim another version recorded, a contract it does not
        // share): the same answer every time, so it is not asked again.
        if (data?.code === "BAD_REQUEST" || data?.reason === reasons.INVALID_INPUT) {
          this.log.error("the grid refused to release the claimed booking; giving up", {
            sessionId,
            reason: data.reason,
            fieldErrors: data.fieldErrors,
          });
          this.ends.gridEnded(tx);
          return "refused";
        }
        this.log.warn("cannot release the claimed booking yet; retrying", {
          sessionId,
          error: describeFailure(err),
        });
        if (!(await backoff.wait(tx.life.signal))) return "gone";
      }
    }
    return "gone";
  }
}

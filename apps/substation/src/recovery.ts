import type { EndReason } from "@evgrid/contract";
import type { EndRecord, SessionRecord } from "./journal.ts";

/** What a restart found in the journal. */
export interface Recovery {
  /** Active sessions taken up again, with their remaining time or energy. */
  resumed: number;
  /** Sessions whose time ran out (or energy was reached) while the substation was down. */
  endedWhileDown: number;
  /** Resumed sessions that no longer fit (capacity or limit lowered since) and were curtailed. */
  curtailed: number;
}

/**
 * How a session the journal holds as active comes back at `nowMs`: ended as it would have been if its time
 * ran out, its departure passed, or its energy was reached while the substation was down (at the time it would have ended), or
 * resumed. Pure: the station does the taking up.
 */
export function recoveryOf(
  rec: SessionRecord,
  nowMs: number,
): { end: EndRecord } | { resume: SessionRecord } {
  const endsAtMs =
    rec.durationS !== null
      ? rec.startedAtMs + rec.durationS * 1000
      : (rec.departAtMs ?? Number.POSITIVE_INFINITY);
  const energyDone = rec.energyKwh !== null && rec.deliveredKwh >= rec.energyKwh;
  if (endsAtMs > nowMs && !energyDone) return { resume: rec };
  const endReason: EndReason = energyDone
    ? "energy_delivered"
    : rec.durationS !== null
      ? "time_elapsed"
      : "departed";
  return {
    end: {
      sessionId: rec.sessionId,
      deliveredKwh: rec.deliveredKwh,
      endedAtMs: Math.min(endsAtMs, nowMs),
      endReason,
    },
  };
}

import type { EndReason, Session } from "@evgrid/contract";
import { departureView, drawnKwh as drawnOf } from "./departures.ts";
import type { LiveSession } from "./sessions.ts";

const MS_PER_HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** An active session as the wire carries it, as of `nowMs`: its class's share, energy drawn, expected end. */
export function activeSession(substationId: string, live: LiveSession, nowMs: number): Session {
  const { cls } = live;
  // The charger's meter, once it reports, is the truth; before that, what the allocation integrates to.
  const drawnKwh = drawnOf(live, nowMs);
  const deliveredKwh = live.energyKwh !== null ? Math.min(live.energyKwh, drawnKwh) : drawnKwh;
  let expectedEndMs: number;
  if (live.durationS !== null) {
    expectedEndMs = live.startedAtMs + live.durationS * 1000;
  } else {
    const remainingKwh = Math.max(0, (live.energyKwh ?? 0) - drawnKwh);
    expectedEndMs = cls.allocatedKw > 0 ? nowMs + (remainingKwh / cls.allocatedKw) * MS_PER_HOUR : Number.NaN;
    // It ends at its departure if its energy comes later (or never, at no power).
    const departAtMs = live.departure?.departAtMs;
    if (departAtMs !== undefined && !(expectedEndMs <= departAtMs)) expectedEndMs = departAtMs;
  }
  return {
    sessionId: live.sessionId,
    substationId,
    vehicleId: live.vehicleId,
    minKw: live.unpinnedMinKw ?? cls.minKw,
    maxKw: live.maxKw,
    capKw: live.capKw,
    allocatedKw: cls.allocatedKw,
    status: "active",
    startedAt: iso(live.startedAtMs),
    durationS: live.durationS,
    energyKwh: live.energyKwh,
    deliveredKwh,
    // Real energy only: what a meter reported (the gateway owes a booking claimed elsewhere the rest).
    ...(live.meteredKwh === null ? {} : { meteredKwh: live.meteredKwh }),
    expectedEndAt: Number.isFinite(expectedEndMs) ? iso(expectedEndMs) : null,
    endedAt: null,
    endReason: null,
    idempotencyKey: live.idempotencyKey,
    owner: live.owner,
    priority: live.priority,
    ...departureView(live, deliveredKwh, nowMs),
  };
}

/** The same session once ended at `nowMs`: no power any more, why it ended, and (moved) where it went on. */
export function endedSession(
  { meteredKwh: _metered, ...last }: Session,
  nowMs: number,
  reason: EndReason,
  movedTo?: string,
): Session {
  // meteredKwh is for active sessions only: an ended one is read back from memory or the journal without it.
  return {
    ...last,
    allocatedKw: 0,
    status: "ended",
    expectedEndAt: null,
    endedAt: iso(nowMs),
    endReason: reason,
    ...(movedTo === undefined ? {} : { movedToSubstationId: movedTo }),
  };
}

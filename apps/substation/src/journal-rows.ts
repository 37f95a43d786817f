import type { EndReason } from "@evgrid/contract";
import { OPERATOR, type Priority, type Session } from "@evgrid/contract";

/** One session as the journal keeps it. */
export interface SessionRecord {
  sessionId: string;
  vehicleId: string;
  minKw: number;
  maxKw: number;
  startedAtMs: number;
  durationS: number | null;
  energyKwh: number | null;
  /** At the last checkpoint (active) or at the end (ended). */
  deliveredKwh: number;
  status: "active" | "ended";
  endedAtMs: number | null;
  endReason: EndReason | null;
  idempotencyKey: string | null;
  owner: string;
  /** Its priority class (a weight in the fair share). */
  priority: Priority;
  /** When an energy session's vehicle leaves; null: no departure. */
  departAtMs: number | null;
  /** Ended `moved`: the substation it goes on at (null: not moved, or moved before this was recorded). */
  movedToSubstationId: string | null;
  /** Active: its charger's meter reading at the last checkpoint (null: none reported, or not checkpointed). */
  meteredKwh: number | null;
}

export interface Row {
  session_id: string;
  vehicle_id: string;
  min_kw: number;
  max_kw: number;
  started_at_ms: number;
  duration_s: number | null;
  energy_kwh: number | null;
  delivered_kwh: number;
  status: "active" | "ended";
  ended_at_ms: number | null;
  end_reason: EndReason | null;
  idempotency_key: string | null;
  owner: string | null;
  priority: Priority | null;
  depart_at_ms: number | null;
  /** Absent from rows of the old sessions table. */
  moved_to_substation_id?: string | null;
  metered_kwh?: number | null;
}

export const fromRow = (r: Row): SessionRecord => ({
  sessionId: r.session_id,
  vehicleId: r.vehicle_id,
  minKw: r.min_kw,
  maxKw: r.max_kw,
  startedAtMs: r.started_at_ms,
  durationS: r.duration_s,
  energyKwh: r.energy_kwh,
  deliveredKwh: r.delivered_kwh,
  status: r.status,
  endedAtMs: r.ended_at_ms,
  endReason: r.end_reason,
  idempotencyKey: r.idempotency_key,
  // Sessions journaled before owners existed were started by whoever held the service token.
  owner: r.owner ?? OPERATOR,
  // Sessions journaled before priority classes existed were all standard.
  priority: r.priority ?? "standard",
  departAtMs: r.depart_at_ms ?? null,
  movedToSubstationId: r.moved_to_substation_id ?? null,
  meteredKwh: r.metered_kwh ?? null,
});

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A journaled session as the API shows it (an ended or recovered session has no allocation; a recovered one's
 * meter reading is the station's to show, once it is live again).
 */
export function sessionOf(rec: Omit<SessionRecord, "meteredKwh">, substationId: string): Session {
  return {
    sessionId: rec.sessionId,
    substationId,
    vehicleId: rec.vehicleId,
    minKw: rec.minKw,
    maxKw: rec.maxKw,
    capKw: null,
    allocatedKw: 0,
    status: rec.status,
    startedAt: iso(rec.startedAtMs),
    durationS: rec.durationS,
    energyKwh: rec.energyKwh,
    deliveredKwh: rec.deliveredKwh,
    expectedEndAt: null,
    endedAt: rec.endedAtMs === null ? null : iso(rec.endedAtMs),
    endReason: rec.endReason,
    idempotencyKey: rec.idempotencyKey,
    owner: rec.owner,
    priority: rec.priority,
    departAt: rec.departAtMs === null ? null : iso(rec.departAtMs),
    ...(rec.movedToSubstationId === null ? {} : { movedToSubstationId: rec.movedToSubstationId }),
  };
}

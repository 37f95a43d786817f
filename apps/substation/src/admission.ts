import { type DispatchRequest, reasons, type Session, type SubstationLoad } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { type AdmissionDecision, type Capacity, decideAdmission } from "@evgrid/policy";

/**
 * The checks a new request passes before a session starts, in order, each refusing with its own typed
 * reason: the caller's deadline passed; the station is drained; the vehicle already charges; the minimum does not fit (packages/policy's
 * all-or-nothing admission). Before them, Station.start refuses everything while closing and answers a
 * retried key with its session (`replayOf`), even on a drained or full station.
 */
export interface AdmissionState {
  substationId: string;
  draining: boolean;
  site: Capacity;
  committedMinKw: number;
  /** The vehicle's active session here, if any. */
  activeOfVehicle: string | undefined;
  load: () => SubstationLoad;
  /** The caller's deadline has passed: it gave up, so nothing may start for it. */
  pastDeadline?: boolean;
}

/** Throws the typed refusal if the request may not start a session here; returns if it may. */
export function checkAdmission(
  req: DispatchRequest,
  s: AdmissionState,
  onRefuse?: (reason: string) => void,
): void {
  if (s.pastDeadline) {
    throw new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.DEADLINE_EXCEEDED,
      `${s.substationId}: the request's deadline passed before it arrived; nothing was started`,
      { substationId: s.substationId },
    );
  }
  if (s.draining) {
    throw new GridError(
      "SERVICE_UNAVAILABLE",
      reasons.SUBSTATION_DRAINING,
      `${s.substationId} is draining: no new sessions, existing ones run to their end`,
      { substationId: s.substationId, load: s.load() },
    );
  }
  if (s.activeOfVehicle !== undefined) {
    throw new GridError(
      "CONFLICT",
      reasons.VEHICLE_ALREADY_CHARGING,
      // Nothing more: who asks may not be who charges, and a session id must not leak to a stranger.
      `vehicle ${req.vehicleId} already has an active session; a retry with the key that started it gets it back`,
    );
  }
  const decision = decideAdmission(s.site, s.committedMinKw, req.minKw);
  if (!decision.admitted) {
    onRefuse?.(decision.reason);
    throw noRoom(req, s, decision);
  }
}

function noRoom(
  req: DispatchRequest,
  s: AdmissionState,
  decision: Exclude<AdmissionDecision, { admitted: true }>,
) {
  const load = s.load();
  // The limit as the operator set it (s.site has the holds taken off), and what is held beside it.
  const held = load.heldDrawKw ? ` less ${load.heldDrawKw} kW held for draws no session holds` : "";
  const constraint = decision.reason === "OPERATOR_LIMIT" ? `operator limit ${load.limitKw} kW` : "capacity";
  return new GridError(
    "TOO_MANY_REQUESTS",
    decision.reason,
    `${s.substationId}: ${req.minKw} kW minimum does not fit; ${decision.headroomKw.toFixed(1)} kW of ${constraint}${held} left`,
    { substationId: s.substationId, requestedMinKw: req.minKw, headroomKw: decision.headroomKw, load },
  );
}

/** A retry with a key: the same session back, unless the key is being reused for another vehicle. */
export function replayOf(req: DispatchRequest, earlier: Session): Session {
  if (earlier.vehicleId !== req.vehicleId) {
    throw new GridError(
      "CONFLICT",
      reasons.IDEMPOTENCY_KEY_REUSED,
      `idempotencyKey ${req.idempotencyKey} already started a session for another vehicle`,
      { field: "idempotencyKey" },
    );
  }
  return earlier;
}

/** A booking goes on in one session: the one it goes on in here exists already (a retry has its key). */
export function alreadyMoved(substationId: string, movedFrom: string): GridError {
  return new GridError(
    "CONFLICT",
    reasons.BOOKING_ALREADY_MOVED,
    `${substationId}: booking ${movedFrom} goes on in a session here already`,
    { field: "movedFrom" },
  );
}

/** The station is shutting down (SIGTERM): nothing new, not even a replay. */
export function closing(substationId: string): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.SUBSTATION_CLOSING,
    `${substationId} is shutting down: its sessions are taken up again when it restarts`,
  );
}

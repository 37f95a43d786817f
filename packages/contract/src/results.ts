import type { DispatchAttempt } from "./errors.ts";
import type { Session, SubstationLoad } from "./substation.ts";

/** The balancer's answer to `dispatch`. */
export interface DispatchResult {
  session: Session;
  /** The session already existed for this idempotency key. */
  replayed: boolean;
  /** How many substations were asked before one admitted the session (1 = first choice). */
  tries: number;
  /** Substations that refused or failed before the one that admitted. */
  attempts: DispatchAttempt[];
}

/** The public answer to `requestCharge`. */
export interface ChargeGrant {
  sessionId: string;
  substationId: string;
  vehicleId: string;
  allocatedKw: number;
  minKw: number;
  maxKw: number;
  startedAt: string;
  /** For energy-based sessions an estimate at today's allocation. */
  expectedEndAt: string | null;
  durationS: number | null;
  energyKwh: number | null;
  tries: number;
  /** True when this answers a retry: the session was started by an earlier request with the same key. */
  replayed: boolean;
  /**
   * Open mode (no API keys): what getSession / stopCharge need besides the id. Keep it like a password;
   * a retry with the same idempotency key returns it again. null when an API key owns the session.
   */
  sessionSecret: string | null;
}

/** One member of the balancer's view of the grid. */
export interface SubstationStatus {
  url: string;
  /** null until the substation has answered `getLoad` once. */
  substationId: string | null;
  healthy: boolean;
  load: SubstationLoad | null;
  /** How old `load` is, in ms, when this status was produced. */
  ageMs: number | null;
  /** Dispatches sent to it whose answers have not arrived yet. */
  inflight: number;
  lastError: string | null;
  /** Failed calls in a row; a failing substation is probed again after an exponential back-off. */
  consecutiveFailures: number;
  /** When it will be probed next, if it is out of rotation. */
  nextProbeInMs: number | null;
  /** Joined by registering itself (rather than from SUBSTATION_URLS). */
  registered: boolean;
}

/** One substation as the public sees it: its id, whether it is in rotation, its load. No addresses, no errors. */
export interface PublicSubstationStatus {
  /** null until the substation has answered once. */
  substationId: string | null;
  healthy: boolean;
  load: SubstationLoad | null;
}

export interface GridStatus {
  substations: PublicSubstationStatus[];
  totals: {
    substations: number;
    healthy: number;
    effectiveCapacityKw: number;
    allocatedKw: number;
    committedMinKw: number;
    activeSessions: number;
  };
}

import type { Allowance } from "./site-sums.ts";

/** Which transaction a limit is for, on which substation (whose pushes are ordered together). */
export interface PushTarget {
  chargePointId: string;
  substationId: string;
  connectorId: number;
  transactionId: string;
  /** Its charge point's maximum (W): what it may draw when nothing limits it. */
  maxW: number;
}

/**
 * Where the power module sends each transaction's limit. The power module only says what each transaction
 * should have now; how and in which order the chargers are told is the pusher's (site-pusher.ts: break before
 * make per substation).
 */
export interface Pusher {
  /** A transaction opened on the connector: in the books from now (at the default, or its maximum). */
  opened(target: PushTarget): void;
  /**
   * The limit the transaction should have now (W, rounded down), since the re-share at `sinceMs`; `ending`:
   * its session ended and its charger was asked to stop (0 W until it reports the end).
   */
  want(target: PushTarget, watts: number, sinceMs: number, ending?: boolean): void;
  /** The transaction on this connector ended: it leaves the books. */
  forget(chargePointId: string, connectorId: number): void;
  /** The charge point is gone. */
  drop(chargePointId: string): void;
  /** What the connector was last sent (for listChargePoints). */
  lastSent(chargePointId: string, connectorId: number): number | null;
  /** A substation's effective capacity (kW), from its level event: the sum the chargers must stay within. */
  setBudget(substationId: string, effectiveCapacityKw: number): void;
  /** The sum a substation's chargers are held to now (W), as last heard; null before its first level. */
  budgetW(substationId: string): number | null;
  /**
   * The charger booted or came back: its charge-point-wide default goes first, then its limits again.
   * Resolves once the charger answered the default, or after `waitMs`.
   */
  online(chargePointId: string, substationId: string, waitMs?: number): Promise<void>;
  offline(chargePointId: string): void;
  /** What the connector may draw as far as the gateway knows (W): max(accepted, in flight), or its maximum. */
  heldW(chargePointId: string, connectorId: number): number | null;
  /** false: it rejects limits or does not answer, and is counted at its maximum. */
  isManaged(chargePointId: string): boolean;
  /** Its last answer refused a limit (a timeout is not a refusal): it can hold no transaction at 0 W. */
  refusesLimits(chargePointId: string): boolean;
  unmanagedCount(): number;
  /**
   * Its meter shows it draws more than it accepted: unmanaged, whatever it answers, until trusted again.
   * False if it was already known to.
   */
  ignoresLimits(chargePointId: string): boolean;
  /** Its meter showed it draws more than it accepted. */
  overdraws(chargePointId: string): boolean;
  /** An operator trusts it again (its next accepted limit makes it managed); false if it was not caught. */
  trustAgain(chargePointId: string): boolean;
  /** What the connector's meter is checked against (site-books.ts); null if it is not in the books. */
  allowance(chargePointId: string, connectorId: number, nowMs: number): Allowance | null;
  /** No timer left (the gateway stops). */
  close(): void;
}

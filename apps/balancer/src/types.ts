import type { DispatchAttempt, DispatchRequest, Session } from "@evgrid/contract";

/**
 * What several files of the balancer share, and no behaviour: the dispatch's answer and report, and the
 * dispatch store (what the dispatcher remembers and claims, in this process or across replicas).
 */

/** The balancer's answer to `dispatch` (clients see it as the router's output type). */
export interface DispatchResult {
  session: Session;
  /** The session already existed for this idempotency key. */
  replayed: boolean;
  /** How many substations were asked before one admitted the session (1 = first choice). */
  tries: number;
  /** Substations that refused or failed before the one that admitted. */
  attempts: DispatchAttempt[];
}

export interface DispatchReport {
  outcome: "admitted" | "grid_full" | "unavailable" | "timeout" | "deadline" | "quota" | "invalid";
  substationId: string | null;
  tries: number;
}

/** How a dispatch ended, as its claim records it. */
export type ClaimOutcome =
  /**
   * A session (new or replayed): its key and vehicle now point at its substation. `replayed` false: this
   * dispatch started it, just now (its vehicle's home is then reckoned on the substation's clock alone).
   */
  | { kind: "admitted"; session: Session; replayed?: boolean }
  /**
   * The substation never answered: it may hold a session, so a retry goes there and nowhere else. Or
   * (`charging`) it said the vehicle charges there: its session is there, whatever this request did. Or
   * (`asked: false`) it was never asked (down before the try): the request started nothing there.
   */
  | { kind: "uncertain"; at: string; charging?: boolean; asked?: boolean }
  /** Surely nothing was started (refused everywhere): the key and vehicle are free again. */
  | { kind: "none" };

/** A request's hold on its idempotency key and vehicle while it is dispatched. */
export interface Claim {
  /** Where the key or vehicle already is (a replay, a session, or a substation a dead replica tried). */
  readonly home: string | undefined;
  /**
   * The home is the only substation it may go to (the store could not vouch: the substations said where
   * the key or vehicle is, or it is the vehicle's hashed home): full there is a certain refusal.
   */
  readonly pinned?: boolean;
  /** Called before each startSession: if this replica dies now, a successor goes there first. */
  trying(substationId: string): Promise<void>;
  finish(outcome: ClaimOutcome): Promise<void>;
}

/** A waiter of any replica, as the shared order holds it. */
export interface OrderedWaiter {
  ticket: number;
  replica: string;
  priority?: DispatchRequest["priority"];
  minKw: number;
  maxKw: number;
  substationId?: string | undefined;
}

/** The wait queue's order across replicas: tickets in arrival order. */
export interface WaitOrder {
  readonly replica: string;
  /** Takes a ticket for a waiter until `untilMs`; null when the store is down (local order only). */
  enter(req: DispatchRequest, untilMs: number): Promise<number | null>;
  leave(ticket: number): void;
  /** Every waiter of every replica still waiting, oldest first; null when the store is down. */
  snapshot(): Promise<OrderedWaiter[] | null>;
}

/**
 * Everything the dispatcher remembers and agrees on: two implementations, `MemoryStore` (this process) and
 * `RedisStore` (every replica, falling back to its own MemoryStore by itself while the store is down).
 */
export interface DispatchStore {
  /** Shared with other replicas (REDIS_URL set), whether or not the store answers right now. */
  readonly shared: boolean;
  /** Shared right now: the store answers. */
  readonly up: boolean;
  /** The store forgot and is being rebuilt from the substations: only requests with a known home go. */
  readonly rebuilding: boolean;
  /** The store is silent and a lease has passed: unknown vehicles go to their hashed home (degraded.ts). */
  readonly hashing: boolean;
  /** The store's maxmemory-policy may drop keys: never trusted, placed as when it cannot vouch. */
  readonly evicting: boolean;
  /** Runs `dispatch` once per idempotency key at a time in this process; later callers get a replay. */
  coalesce(req: DispatchRequest, dispatch: () => Promise<DispatchResult>): Promise<DispatchResult>;
  /** A retry of a dispatch this replica made (it asks for nothing new: no quota is counted). */
  isRetry(req: DispatchRequest): boolean;
  /**
   * Claims the request's key (waiting while another replica dispatches it, until `deadlineMs`) and its
   * vehicle (refusing 409 while another replica starts it).
   */
  claim(req: DispatchRequest, deadlineMs: number): Promise<Claim>;
  /** Where this vehicle's active session is, as last recorded; undefined if none or unknown. */
  vehicleHome(vehicleId: string): Promise<string | undefined>;
  /** The vehicle's session is over: its next request may go anywhere. */
  forgetVehicle(vehicleId: string): Promise<void>;
  /** The wait queue's order across replicas; undefined: this replica's order only. */
  readonly waitOrder: WaitOrder | undefined;
}

import type { AnyRouter, TRPCError } from "@trpc/server";
import type { TraceFields } from "./messages.ts";
import type { Prepare } from "./procedures.ts";
import type { RunningCall } from "./running-call.ts";

/** What link-server.ts keeps per link, and what it is given. */
export interface LinkData {
  /** The token was shown at the upgrade; else the first message must be connectionParams. */
  authed: boolean;
  /** Calls running on this link, to abort when it closes (and to bound). */
  running: Map<string | number, RunningCall>;
  /** The client reads several answers in one frame (it asked with `?batch=1`; tRPC's own client does not). */
  batch: boolean;
  /** Answers waiting for the end of this turn of the event loop (batching links only). */
  outbox: object[];
  /** The peer's address (IPv6 by its /64): links still waiting for the token are counted per address. */
  address: string;
  /** Sends a message on this link (answers of one turn go out together): set when it opens. */
  reply: (message: object) => void;
  /** Closes a link that has not shown the token in time. */
  authTimer?: ReturnType<typeof setTimeout> | undefined;
}

export interface LinkServerOptions<TContext> {
  router: AnyRouter;
  /**
   * Does this `Authorization` value open a link? Asked with the upgrade's header, and with
   * `Bearer <connectionParams.token>` for a client that sends it in tRPC's connectionParams message.
   */
  authorize(authorization: string | null): boolean;
  /**
   * The context each call on a link runs with: `trace` is the trace context its message carried,
   * `deadlineAtMs` (epoch ms, this host's clock) the budget it carried (null: none, as from stock tRPC).
   */
  createContext(trace: TraceFields, deadlineAtMs: number | null): TContext;
  /** The key a peer's address is counted under (e.g. IPv6 by its /64); the address itself by default. */
  addressKey?: (address: string) => string;
  /** The largest frame taken (more closes the link, 1009) and sent. */
  maxFrameBytes?: number;
  /** Calls one link may have running at once; more are refused (TOO_MANY_REQUESTS). */
  maxRunning?: number;
  /** How long a link opened without the token has to send it in connectionParams (LINK_AUTH_TIMEOUT_MS). */
  authTimeoutMs?: number;
  /**
   * Links one address may hold open before they show the token (LINK_MAX_PENDING_PER_ADDRESS); more such
   * upgrades are refused 429. Links with the token are bounded by who holds it, not counted.
   */
  maxPendingPerAddress?: number;
  onInternalError?: (error: TRPCError, path: string) => void;
  /**
   * Prepares, once at start, the procedures it recognises for calls on a link (whose caller proved the
   * service token when it opened): they skip tRPC's middleware chain. Others run the chain.
   */
  prepare?: Prepare<TContext>;
}

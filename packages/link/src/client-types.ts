import type {
  AnyProcedure,
  AnyRouter,
  AnySubscriptionProcedure,
  inferProcedureInput,
  inferSubscriptionOutput,
  inferTRPCClientTypes,
  inferTransformedProcedureOutput,
  TRPCRouterRecord,
} from "@trpc/server";

/**
 * Per call: `context.timeoutMs` replaces the client's timeout (a long wait); `context.deadlineAtMs` (epoch
 * ms, the caller's own deadline, e.g. `ctx.deadlineAtMs`) shortens it to what is left, and a call whose
 * deadline has passed is not sent (it fails DEADLINE_EXCEEDED, certainly not run); `context.signal` ends the
 * call early (the caller hung up), which the server sees as a closed request. Every call tells the peer its
 * budget (what is left of its timeout), which becomes the peer's `ctx.deadlineAtMs`.
 */
export interface CallOptions {
  context?: {
    timeoutMs?: number;
    deadlineAtMs?: number | null | undefined;
    signal?: AbortSignal | undefined;
  };
}

/** A subscription's callbacks, each value typed as the procedure yields it; the call returns the way to stop it. */
export interface SubscribeOptions<TData = unknown> {
  onData: (data: TData) => void;
  onError?: (err: Error) => void;
  /** The peer ended it. */
  onComplete?: () => void;
}

export interface Unsubscribable {
  unsubscribe(): void;
}

/**
 * Watches each call: started before it is sent (its `headers` carry the trace context), ended with its
 * outcome code (`OK`, a tRPC code, or `UNAVAILABLE`). kit's `observeCalls` times calls and makes spans.
 */
export type CallObserver = (path: string) => {
  headers: Record<string, string>;
  end(code: string, message?: string): void;
} | null;

/** The run-time shape of every node of the proxy: a procedure's three verbs (only the right one is typed). */
export interface ProcedureNode {
  query(input?: unknown, opts?: CallOptions): Promise<unknown>;
  mutate(input?: unknown, opts?: CallOptions): Promise<unknown>;
  subscribe(input: unknown, opts: SubscribeOptions): Unsubscribable;
}

type Output<TRouter extends AnyRouter, P extends AnyProcedure> = inferTransformedProcedureOutput<
  inferTRPCClientTypes<TRouter>,
  P
>;

/** What a procedure offers on the client: the verb of its type, with its input and output from the router. */
type ClientProcedure<TRouter extends AnyRouter, P extends AnyProcedure> = P["_def"]["type"] extends "query"
  ? { query(input: inferProcedureInput<P>, opts?: CallOptions): Promise<Output<TRouter, P>> }
  : P["_def"]["type"] extends "mutation"
    ? { mutate(input: inferProcedureInput<P>, opts?: CallOptions): Promise<Output<TRouter, P>> }
    : P extends AnySubscriptionProcedure
      ? {
          subscribe(
            input: inferProcedureInput<P>,
            opts: SubscribeOptions<inferSubscriptionOutput<P>>,
          ): Unsubscribable;
        }
      : never;

type ClientRecord<TRouter extends AnyRouter, TRecord extends TRPCRouterRecord> = {
  [K in keyof TRecord]: TRecord[K] extends AnyProcedure
    ? ClientProcedure<TRouter, TRecord[K]>
    : TRecord[K] extends TRPCRouterRecord
      ? ClientRecord<TRouter, TRecord[K]>
      : never;
};

/** The typed proxy over a router: `client.a.b.query(input)`, nested routers by their dotted paths. */
export type RouterClient<TRouter extends AnyRouter> = ClientRecord<TRouter, TRouter["_def"]["record"]>;

// The link's own (link-client.ts).

export interface LinkOptions {
  /** Sent as `Authorization: Bearer <token>` when the link opens. */
  token?: string | undefined;
  /** Longest wait between attempts to reopen a link that keeps failing. */
  maxBackoffMs?: number;
  /** How long opening the link may take before the attempt counts as failed. */
  connectTimeoutMs?: number;
  /** The largest frame the peer takes (its body limit); a call that alone is bigger fails unsent. */
  maxFrameBytes?: number;
}

/** A call out on a link, waiting for its answer. */
export interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A subscription on a link, sent again whenever the link reopens. */
export interface Subscription {
  path: string;
  input: unknown;
  onData: (data: unknown) => void;
  onError: (err: Error) => void;
  onComplete: () => void;
}

export interface LinkCallOptions {
  timeoutMs: number;
  /** The caller gave up (hung up): the call fails at once as aborted. */
  signal?: AbortSignal | undefined;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** The site of the peer's process the call is for (link-sites.ts); none: the peer itself. */
  site?: string | undefined;
}

/** An answer as it arrives, not yet checked. */
export interface Answer {
  id?: number;
  result?: { type?: string; data?: unknown };
  error?: unknown;
  /** The call named a site the peer's process does not host (link-sites.ts): it did not run. */
  siteMissing?: boolean;
}

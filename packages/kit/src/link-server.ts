import type { AnyRouter } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { normalizeAddress } from "./address.ts";
import { deadlineFromBudget } from "./deadline.ts";
import { errorShape } from "./http-errors.ts";
import { MAX_BODY_BYTES } from "./limits.ts";
import { tooMany, unauthorized } from "./link-messages.ts";
import {
  type CallParams,
  frames,
  isCall,
  isParams,
  type Message,
  parseFrame,
  type TraceFields,
} from "./link-wire.ts";
import type { RpcObservability } from "./observe.ts";
import { resolveProcedures } from "./procedures.ts";
import { type ApiKeys, tokenMatches } from "./token.ts";
import type { RequestContext } from "./trpc.ts";

/**
 * The server end of the grid's internal links: tRPC's own WebSocket protocol (the one @trpc/client's wsLink
 * speaks: JSON `{id, method, params: {path, input}}` in, alone or several in an array, `{id, result: {type,
 * data}}` or `{id, error}` out, PING/PONG, subscriptions started/data/stopped), on Bun's WebSocket server.
 * A client that opens with `?batch=1` (ours) also gets the answers of one turn of the event loop as one array.
 *
 * A link proves the service token before anything runs: at the upgrade (`Authorization: Bearer`), or, for
 * clients that cannot set headers (browsers, tRPC's createWSClient), in tRPC's `connectionParams` message
 * (`?connectionParams=1`, then `{method: "connectionParams", data: {token}}` first). Anything else first,
 * or nothing within `authTimeoutMs`, closes the link; links waiting for it are capped per address. Each call then runs like an HTTP call (every middleware, validator and error format),
 * with its own trace context (`traceparent` beside `params`) and its own abort signal, which fires when the
 * link drops: a waiting dispatch whose caller is gone leaves the queue.
 */
export interface LinkData {
  /** The token was shown at the upgrade; else the first message must be connectionParams. */
  authed: boolean;
  /** Calls running on this link, to abort when it closes (and to bound). */
  running: Map<string | number, AbortController>;
  /** The client reads several answers in one frame (it asked with `?batch=1`; tRPC's own client does not). */
  batch: boolean;
  /** Answers waiting for the end of this turn of the event loop (batching links only). */
  outbox: object[];
  /** The peer's address (IPv6 by its /64): links still waiting for the token are counted per address. */
  address: string;
  /** Closes a link that has not shown the token in time. */
  authTimer?: ReturnType<typeof setTimeout> | undefined;
}

export interface LinkServerOptions {
  router: AnyRouter;
  serviceToken: string;
  apiKeys: ApiKeys;
  obs: RpcObservability;
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
}

type Ws = ServerWebSocket<LinkData>;

/** Close codes: the WebSocket range for applications (4000-4999), after HTTP's statuses. */
export const LINK_CLOSE = { unauthorized: 4401, badMessage: 4400 } as const;

export function linkServer(opts: LinkServerOptions) {
  // Resolved once: a call looks its procedure up by path, no caller is built per call.
  const procedureAt = resolveProcedures(opts.router);
  const maxRunning = opts.maxRunning ?? 100_000;
  const open = new Set<Ws>();
  const authTimeoutMs = opts.authTimeoutMs ?? 5000;
  const maxPending = opts.maxPendingPerAddress ?? 16;
  // Links without the token yet, per address, counted from the upgrade (a burst in one tick counts at once).
  const pending = new Map<string, number>();
  const release = (data: LinkData) => {
    if (data.authed) return;
    const n = (pending.get(data.address) ?? 1) - 1;
    if (n > 0) pending.set(data.address, n);
    else pending.delete(data.address);
  };

  // Links with answers queued this turn; flushed together once the turn's I/O is done.
  const dirty = new Set<Ws>();
  const flush = () => {
    for (const ws of dirty) {
      const messages = ws.data.outbox;
      ws.data.outbox = [];
      if (ws.readyState !== 1) continue;
      // Frames no bigger than the client would take from us (the same limit we take from it).
      for (const frame of frames(
        messages.map((m) => JSON.stringify(m)),
        MAX_BODY_BYTES,
      ))
        ws.send(frame);
    }
    dirty.clear();
  };
  const send = (ws: Ws, message: object) => {
    if (ws.readyState !== 1) return;
    if (!ws.data.batch) return void ws.send(JSON.stringify(message));
    ws.data.outbox.push(message);
    if (dirty.size === 0) setImmediate(flush);
    dirty.add(ws);
  };
  const fail = (ws: Ws, id: string | number | null, error: TRPCError, path?: string) =>
    send(ws, { id, error: errorShape(error, path) });

  async function run(
    ws: Ws,
    id: string | number,
    method: string,
    params: CallParams,
    trace: TraceFields,
    deadlineAtMs: number | null,
  ) {
    const procedure = procedureAt(params.path);
    if (!procedure) {
      return fail(
        ws,
        id,
        new TRPCError({ code: "NOT_FOUND", message: `no procedure ${params.path}` }),
        params.path,
      );
    }
    if (procedure.type !== method) {
      const message = `${params.path} is a ${procedure.type}, not a ${method}`;
      return fail(ws, id, new TRPCError({ code: "METHOD_NOT_SUPPORTED", message }), params.path);
    }
    if (ws.data.running.has(id)) {
      const message = `call id ${id} is already running on this link`;
      return fail(ws, id, new TRPCError({ code: "BAD_REQUEST", message }), params.path);
    }
    if (ws.data.running.size >= maxRunning) {
      const message = `at most ${maxRunning} calls at once on one link`;
      return fail(ws, id, new TRPCError({ code: "TOO_MANY_REQUESTS", message }), params.path);
    }
    const aborter = new AbortController();
    ws.data.running.set(id, aborter);
    // Past its deadline a call is let go as one whose caller hung up: a waiting dispatch leaves the queue.
    const late =
      deadlineAtMs === null || method === "subscription"
        ? undefined
        : setTimeout(() => aborter.abort(), Math.max(0, deadlineAtMs - Date.now()));
    const ctx: RequestContext = {
      req: null,
      link: trace,
      obs: opts.obs,
      serviceToken: opts.serviceToken,
      apiKeys: opts.apiKeys,
      clientAddress: null,
      deadlineAtMs,
    };
    try {
      const data = await procedure.call(ctx, params.input, aborter.signal);
      if (method === "subscription") await stream(ws, id, data as AsyncIterable<unknown>, aborter.signal);
      else send(ws, { id, result: { type: "data", data } });
    } catch (err) {
      const error =
        err instanceof TRPCError ? err : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: err });
      if (error.code === "INTERNAL_SERVER_ERROR") opts.onInternalError?.(error, params.path);
      fail(ws, id, error, params.path);
    } finally {
      clearTimeout(late);
      ws.data.running.delete(id);
    }
  }

  /** A subscription: started, every value as data, then stopped (the client's stop, or the stream's end). */
  async function stream(ws: Ws, id: string | number, values: AsyncIterable<unknown>, signal: AbortSignal) {
    send(ws, { id, result: { type: "started" } });
    const iterator = values[Symbol.asyncIterator]();
    const stopped = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), stopped.then(() => null)]);
        if (next === null || next.done) break;
        send(ws, { id, result: { type: "data", data: next.value } });
      }
    } finally {
      await iterator.return?.();
      send(ws, { id, result: { type: "stopped" } });
    }
  }

  /** One message of a frame; false when it closed the link (the rest of the frame is dropped). */
  function receive(ws: Ws, msg: Message): boolean {
    if (!ws.data.authed) {
      // Only the connectionParams message may come first, and it must carry the service token.
      const token =
        msg.method === "connectionParams" ? (msg.data as { token?: unknown } | null)?.token : undefined;
      if (typeof token === "string" && tokenMatches(opts.serviceToken, `Bearer ${token}`)) {
        release(ws.data);
        ws.data.authed = true;
        clearTimeout(ws.data.authTimer);
        return true;
      }
      ws.close(LINK_CLOSE.unauthorized, "send the service token first");
      return false;
    }
    if (msg.method === "subscription.stop") {
      // Stops a subscription, or (our extension) tells a running call its caller is gone.
      if (msg.id !== null && msg.id !== undefined) ws.data.running.get(msg.id)?.abort();
      return true;
    }
    if (msg.id === null || msg.id === undefined || !isCall(msg.method) || !isParams(msg.params)) {
      const error = new TRPCError({
        code: "BAD_REQUEST",
        message: "a call needs an id, a method and params.path",
      });
      fail(ws, msg.id ?? null, error);
      return true;
    }
    // The call's budget becomes a deadline on this host's clock as it is read (deadline.ts).
    void run(
      ws,
      msg.id,
      msg.method,
      msg.params,
      { traceparent: msg.traceparent, tracestate: msg.tracestate },
      deadlineFromBudget(msg.budgetMs),
    );
    return true;
  }

  const websocket: WebSocketHandler<LinkData> = {
    // A message over the body limit closes the link (1009): it cannot be a call of ours.
    maxPayloadLength: MAX_BODY_BYTES,
    idleTimeout: 120,
    open(ws) {
      open.add(ws);
      // An unauthenticated link holds a socket for nothing: it gets a few seconds, not the idle timeout.
      if (!ws.data.authed) {
        ws.data.authTimer = setTimeout(
          () => ws.close(LINK_CLOSE.unauthorized, `no service token within ${authTimeoutMs} ms`),
          authTimeoutMs,
        );
      }
    },
    message(ws, raw) {
      const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
      if (text === "PING") return void ws.send("PONG");
      if (text === "PONG") return;
      const parsed = parseFrame(text);
      if (!parsed) return ws.close(LINK_CLOSE.badMessage, "not a tRPC message");
      for (const msg of parsed) {
        if (!receive(ws, msg)) return;
      }
    },
    close(ws) {
      clearTimeout(ws.data.authTimer);
      release(ws.data);
      open.delete(ws);
      dirty.delete(ws);
      for (const aborter of ws.data.running.values()) aborter.abort();
      ws.data.running.clear();
    },
  };

  /**
   * Shutting down: lets the calls running on every link finish (at most `timeoutMs`), then closes the
   * links as "going away" (1001); their peers open new ones, to wherever the app comes back.
   */
  async function drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...open].some((ws) => ws.data.running.size > 0) && Date.now() < deadline) await Bun.sleep(10);
    flush(); // the last answers, before the links close
    for (const ws of open) ws.close(1001, "shutting down");
  }

  return {
    websocket,
    drain,
    /**
     * Takes `GET /trpc` with `Upgrade: websocket` if it shows the service token (or will, in connectionParams);
     * answers 401 otherwise, before any WebSocket opens. Undefined when upgraded.
     */
    upgrade(req: Request, server: Server<LinkData>): Response | undefined {
      const url = new URL(req.url);
      const authed = tokenMatches(opts.serviceToken, req.headers.get("authorization"));
      const willSend = url.searchParams.get("connectionParams") === "1";
      if (!authed && !willSend) return unauthorized();
      const address = normalizeAddress(server.requestIP(req)?.address ?? "unknown");
      if (!authed) {
        const count = pending.get(address) ?? 0;
        if (count >= maxPending) return tooMany(maxPending);
        pending.set(address, count + 1);
      }
      const batch = url.searchParams.get("batch") === "1";
      const data: LinkData = { authed, running: new Map(), batch, outbox: [], address };
      if (server.upgrade(req, { data })) return undefined;
      release(data);
      return Response.json({ error: "expected a WebSocket upgrade" }, { status: 400 });
    },
  };
}

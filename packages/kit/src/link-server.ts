import type { AnyRouter } from "@trpc/server";
import { TRPCError } from "@trpc/server";
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { errorShape } from "./http-errors.ts";
import { MAX_BODY_BYTES } from "./limits.ts";
import type { RpcObservability } from "./observe.ts";
import { type ApiKeys, tokenMatches } from "./token.ts";
import type { RequestContext } from "./trpc.ts";

/**
 * The server end of the grid's internal links: tRPC's own WebSocket protocol (the one @trpc/client's wsLink
 * speaks: JSON `{id, method, params: {path, input}}` in, `{id, result: {type, data}}` or `{id, error}` out,
 * PING/PONG, subscriptions started/data/stopped), on Bun's WebSocket server.
 *
 * A link proves the service token before anything runs: at the upgrade (`Authorization: Bearer`), or, for
 * clients that cannot set headers (browsers, tRPC's createWSClient), in tRPC's `connectionParams` message
 * (`?connectionParams=1`, then `{method: "connectionParams", data: {token}}` first). Anything else first
 * closes the link. Each call then runs like an HTTP call (every middleware, validator and error format),
 * with its own trace context (`traceparent` beside `params`) and its own abort signal, which fires when the
 * link drops: a waiting dispatch whose caller is gone leaves the queue.
 */
export interface LinkData {
  /** The token was shown at the upgrade; else the first message must be connectionParams. */
  authed: boolean;
  /** Calls running on this link, to abort when it closes (and to bound). */
  running: Map<string | number, AbortController>;
}

export interface LinkServerOptions {
  router: AnyRouter;
  serviceToken: string;
  apiKeys: ApiKeys;
  obs: RpcObservability;
  /** Calls one link may have running at once; more are refused (TOO_MANY_REQUESTS). */
  maxRunning?: number;
  onInternalError?: (error: TRPCError, path: string) => void;
}

type Procedure = ((opts: unknown) => Promise<unknown>) & { _def: { type: string } };
type Ws = ServerWebSocket<LinkData>;

/** Close codes: the WebSocket range for applications (4000-4999), after HTTP's statuses. */
export const LINK_CLOSE = { unauthorized: 4401, badMessage: 4400 } as const;

export function linkServer(opts: LinkServerOptions) {
  // Resolved once: a call looks its procedure up by path, no caller is built per call.
  const procedures = opts.router._def.procedures as Record<string, Procedure | undefined>;
  const maxRunning = opts.maxRunning ?? 100_000;
  const open = new Set<Ws>();

  const send = (ws: Ws, message: unknown) => {
    if (ws.readyState === 1) ws.send(JSON.stringify(message));
  };
  const fail = (ws: Ws, id: string | number | null, error: TRPCError, path?: string) =>
    send(ws, { id, error: errorShape(error, path) });

  async function run(ws: Ws, id: string | number, method: string, params: CallParams, trace: TraceFields) {
    const procedure = procedures[params.path];
    if (!procedure) {
      return fail(
        ws,
        id,
        new TRPCError({ code: "NOT_FOUND", message: `no procedure ${params.path}` }),
        params.path,
      );
    }
    if (procedure._def.type !== method) {
      const message = `${params.path} is a ${procedure._def.type}, not a ${method}`;
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
    const ctx: RequestContext = {
      req: null,
      link: trace,
      obs: opts.obs,
      serviceToken: opts.serviceToken,
      apiKeys: opts.apiKeys,
      clientAddress: null,
    };
    try {
      const data = await procedure({
        ctx,
        path: params.path,
        getRawInput: async () => params.input,
        type: method,
        signal: aborter.signal,
        batchIndex: 0,
      });
      if (method === "subscription") await stream(ws, id, data as AsyncIterable<unknown>, aborter.signal);
      else send(ws, { id, result: { type: "data", data } });
    } catch (err) {
      const error =
        err instanceof TRPCError ? err : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: err });
      if (error.code === "INTERNAL_SERVER_ERROR") opts.onInternalError?.(error, params.path);
      fail(ws, id, error, params.path);
    } finally {
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

  const websocket: WebSocketHandler<LinkData> = {
    // A message over the body limit closes the link (1009): it cannot be a call of ours.
    maxPayloadLength: MAX_BODY_BYTES,
    idleTimeout: 120,
    open(ws) {
      open.add(ws);
    },
    message(ws, raw) {
      const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
      if (text === "PING") return void ws.send("PONG");
      if (text === "PONG") return;
      const msg = parseMessage(text);
      if (!msg) return ws.close(LINK_CLOSE.badMessage, "not a tRPC message");
      if (!ws.data.authed) {
        // Only the connectionParams message may come first, and it must carry the service token.
        const token =
          msg.method === "connectionParams" ? (msg.data as { token?: unknown } | null)?.token : undefined;
        if (typeof token === "string" && tokenMatches(opts.serviceToken, `Bearer ${token}`)) {
          ws.data.authed = true;
          return;
        }
        return ws.close(LINK_CLOSE.unauthorized, "send the service token first");
      }
      if (msg.method === "subscription.stop") {
        // Stops a subscription, or (our extension) tells a running call its caller is gone.
        if (msg.id !== null && msg.id !== undefined) ws.data.running.get(msg.id)?.abort();
        return;
      }
      if (msg.id === null || msg.id === undefined || !isCall(msg.method) || !isParams(msg.params)) {
        const error = new TRPCError({
          code: "BAD_REQUEST",
          message: "a call needs an id, a method and params.path",
        });
        return fail(ws, msg.id ?? null, error);
      }
      void run(ws, msg.id, msg.method, msg.params, {
        traceparent: msg.traceparent,
        tracestate: msg.tracestate,
      });
    },
    close(ws) {
      open.delete(ws);
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
      const data: LinkData = { authed, running: new Map() };
      if (server.upgrade(req, { data })) return undefined;
      return Response.json({ error: "expected a WebSocket upgrade" }, { status: 400 });
    },
  };
}

interface CallParams {
  path: string;
  input?: unknown;
}
interface TraceFields {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}
interface Message extends TraceFields {
  id?: string | number | null;
  method?: unknown;
  params?: unknown;
  data?: unknown;
}

function parseMessage(text: string): Message | null {
  try {
    const msg: unknown = JSON.parse(text);
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return null;
    const m = msg as Record<string, unknown>;
    if (m.id !== undefined && m.id !== null && typeof m.id !== "string" && typeof m.id !== "number")
      return null;
    return {
      id: m.id as Message["id"],
      method: m.method,
      params: m.params,
      data: m.data,
      traceparent: typeof m.traceparent === "string" ? m.traceparent : undefined,
      tracestate: typeof m.tracestate === "string" ? m.tracestate : undefined,
    };
  } catch {
    return null;
  }
}

const isCall = (method: unknown): method is "query" | "mutation" | "subscription" =>
  method === "query" || method === "mutation" || method === "subscription";

const isParams = (params: unknown): params is CallParams =>
  typeof params === "object" && params !== null && typeof (params as CallParams).path === "string";

function unauthorized(): Response {
  return Response.json(
    {
      error: {
        message: "internal link: send Authorization: Bearer <service token>",
        data: { reason: "UNAUTHORIZED" },
      },
    },
    { status: 401 },
  );
}

import type { Telemetry } from "@evgrid/telemetry";
import { type AnyRouter, TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { errorResponse, leanTrpcHandler } from "./lean-http.ts";
import { MAX_BODY_BYTES } from "./limits.ts";
import type { Logger } from "./log.ts";
import type { RpcObservability } from "./observe.ts";

export interface AppServerOptions {
  service: string;
  version: string;
  router: AnyRouter;
  hostname: string;
  port: number;
  telemetry: Telemetry;
  obs: RpcObservability;
  /** What internal procedures require as `Authorization: Bearer ...`. */
  serviceToken: string;
  /** Keys the public procedures require (empty: open). */
  apiKeys?: readonly string[];
  log: Logger;
  /** Extra plain-HTTP routes (exact path match), e.g. charge-api's legacy `POST /request_charge`. */
  routes?: Record<string, (req: Request) => Response | Promise<Response>>;
}

export interface AppServer {
  /** e.g. http://127.0.0.1:8101, with the real port when 0 was asked for. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Every app is served the same way: tRPC under /trpc, plus /healthz and /metrics. Anything unexpected is
 * answered with JSON, never Bun's HTML error page.
 */
export function serveApp(opts: AppServerOptions): AppServer {
  const startedAt = Date.now();
  const extra = opts.routes ?? {};
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = listen(opts, startedAt, extra);
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`${opts.service} cannot listen on ${opts.hostname}:${opts.port} (${code})`);
  }
  const port = server.port ?? opts.port;
  return {
    url: `http://${opts.hostname}:${port}`,
    port,
    /** Graceful: no new connections, in-flight requests finish (at most 3 s), then the rest are closed. */
    async stop() {
      await Promise.race([server.stop(false), Bun.sleep(3000)]);
      await server.stop(true);
    },
  };
}

function listen(opts: AppServerOptions, startedAt: number, extra: NonNullable<AppServerOptions["routes"]>) {
  const apiKeys = opts.apiKeys ?? [];
  const createContext = (req: Request) => ({ req, obs: opts.obs, serviceToken: opts.serviceToken, apiKeys });
  const logInternal = (error: TRPCError, path: string | undefined) => {
    if (error.code === "INTERNAL_SERVER_ERROR") {
      opts.log.error("procedure failed", { path, error: error.cause?.message ?? error.message });
    }
  };
  const lean = leanTrpcHandler(opts.router, createContext, logInternal);
  return Bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    development: false,
    // Hard stop for bodies without a length (chunked); the typed 413 below covers the usual case.
    maxRequestBodySize: 16 * MAX_BODY_BYTES,
    // Seconds a keep-alive connection may sit idle; long enough for pooled internal clients.
    idleTimeout: 30,
    async fetch(req) {
      const url = new URL(req.url);
      const { pathname } = url;
      if (Number(req.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) {
        return errorResponse(
          new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: `request body over ${MAX_BODY_BYTES} bytes` }),
        );
      }
      if (pathname.startsWith("/trpc/")) {
        const fast = await lean(req, url, pathname.slice("/trpc/".length));
        if (fast) return fast;
        return fetchRequestHandler({
          endpoint: "/trpc",
          req,
          router: opts.router,
          createContext: () => createContext(req),
          onError: ({ error, path }) => logInternal(error, path),
        });
      }
      if (pathname === "/healthz") {
        return Response.json({
          ok: true,
          service: opts.service,
          version: opts.version,
          uptimeS: Math.round((Date.now() - startedAt) / 100) / 10,
        });
      }
      if (pathname === "/metrics") {
        return new Response(await opts.telemetry.renderMetrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      const handler = extra[pathname];
      if (handler) return handler(req);
      return errorResponse(
        new TRPCError({ code: "NOT_FOUND", message: `no route ${req.method} ${pathname}` }),
      );
    },
    error(err) {
      opts.log.error("unhandled request error", { error: err.message });
      return errorResponse(new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error" }));
    },
  });
}

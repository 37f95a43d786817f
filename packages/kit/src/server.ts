import {
  BUDGET_HEADER,
  deadlineFromBudget,
  type LinkData,
  leanTrpcHandler,
  linkGroupOf,
  linkServer,
} from "@evgrid/link";
import type { Telemetry } from "@evgrid/telemetry";
import { type AnyRouter, TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { Server } from "bun";
import { clientAddress, normalizeAddress, type TrustedProxies } from "./address.ts";
import { readBodyLimited } from "./body.ts";
import { healthResponse, type ReadinessCheck } from "./health.ts";
import { errorResponse, retryAfterMeta } from "./http-errors.ts";
import { DEFAULT_MAX_BATCH_CALLS, MAX_BODY_BYTES } from "./limits.ts";
import type { Logger } from "./log.ts";
import type { RpcObservability } from "./observe.ts";
import { prepareInternal, preparePublic } from "./prepared.ts";
import { INSECURE_DEMO_WARNING } from "./secrets.ts";
import { type ApiKeys, tokenMatches } from "./token.ts";
import type { RequestContext } from "./trpc.ts";

/** A plain-HTTP route beside /trpc, e.g. charge-api's legacy `POST /request_charge`; the body is read already. */
export type RouteHandler = (call: {
  req: Request;
  ctx: RequestContext;
  body: string;
}) => Response | Promise<Response>;

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
  /** Keys the public procedures require (none: open). */
  apiKeys: ApiKeys;
  /** Reverse proxies of our own in front of this app (TRUST_PROXY), whose X-Forwarded-For is believed. */
  trustedProxies: TrustedProxies;
  /** If set, GET /metrics requires `Authorization: Bearer <it>`. */
  metricsToken: string | undefined;
  log: Logger;
  /** EVGRID_INSECURE_DEMO: /healthz says so, to whoever checks. */
  insecureDemo?: boolean;
  /**
   * Internal links (WebSocket upgrades on /trpc): `false` on a port no caller of ours opens one to (the
   * public charge-api: HTTP and SSE only), else how long an unauthenticated link may wait and how many
   * such links one address may hold.
   */
  links: false | { authTimeoutMs: number; maxPendingPerAddress: number };
  /** RLIMIT_NOFILE as the process runs with it, for /healthz (openFilesLimit in fd-limit.ts). */
  openFilesLimit?: { soft: number; hard: number } | undefined;
  /** Extra plain-HTTP routes (exact path match). */
  routes?: Record<string, RouteHandler>;
  /** What /readyz asks (none: ready whenever it serves). */
  ready?: ReadinessCheck | undefined;
  /** Calls one HTTP request may carry as a tRPC batch (MAX_BATCH_CALLS; default DEFAULT_MAX_BATCH_CALLS). */
  maxBatchCalls?: number | undefined;
  /** This app's name among the sites of its process: links to any of them carry its calls (link-sites.ts). */
  linkSite?: string | undefined;
}

export interface AppServer {
  /** e.g. http://127.0.0.1:8101, with the real port when 0 was asked for. */
  url: string;
  port: number;
  /** The group of sites whose links carry this app's calls (its `linkSite` was hosted), or null. */
  linkGroup: string | null;
  stop(): Promise<void>;
}

/**
 * Every app is served the same way: tRPC under /trpc, plus /livez, /readyz, /healthz and /metrics (health.ts).
 * Anything unexpected is answered with JSON, never Bun's HTML error page.
 */
export function serveApp(opts: AppServerOptions): AppServer {
  const startedAt = Date.now();
  let server: Server<LinkData>;
  let links: ReturnType<typeof linkServer>;
  try {
    ({ server, links } = listen(opts, startedAt));
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`${opts.service} cannot listen on ${opts.hostname}:${opts.port} (${code})`);
  }
  const port = server.port ?? opts.port;
  // Its site joins the process's others (same service token) once it listens; a name taken stays out.
  const group = opts.links && opts.linkSite ? linkGroupOf(opts.serviceToken) : null;
  const hosted = group !== null && links.host(group, opts.linkSite as string);
  return {
    url: `http://${opts.hostname}:${port}`,
    port,
    linkGroup: hosted ? group : null,
    /**
     * Graceful: no new connections; in-flight requests and link calls finish (at most 3 s); links are closed
     * as going away; then whatever is left.
     */
    async stop() {
      await Promise.race([Promise.all([server.stop(false), links.drain(3000)]), Bun.sleep(3000)]);
      await server.stop(true);
    },
  };
}

const hasBody = (method: string) => method !== "GET" && method !== "HEAD";
/** As tRPC matches it: the media type alone, in any case. */
const isJson = (req: Request) =>
  req.headers.get("content-type")?.split(";", 1)[0]?.trim().toLowerCase() === "application/json";

function listen(opts: AppServerOptions, startedAt: number) {
  const extra = opts.routes ?? {};
  const logInternal = (error: TRPCError, path: string | undefined) => {
    if (error.code === "INTERNAL_SERVER_ERROR") {
      opts.log.error("procedure failed", { path, error: error.cause?.message ?? error.message });
    }
  };
  const lean = leanTrpcHandler<RequestContext>(opts.router, {
    onError: logInternal,
    responseMeta: retryAfterMeta,
    // Public procedures skip tRPC's middleware chain: the same checks, prepared once.
    prepare: preparePublic,
  });
  const probes = {
    service: opts.service,
    version: opts.version,
    startedAt,
    ready: opts.ready,
    details: {
      openFilesLimit: opts.openFilesLimit,
      ...(opts.insecureDemo ? { insecureDemo: true, warning: INSECURE_DEMO_WARNING } : {}),
    },
  };
  // Internal links: tRPC's WebSocket protocol on GET /trpc (@evgrid/link).
  const links = linkServer<RequestContext>({
    router: opts.router,
    // One token opens a link: the grid's service token, at the upgrade or in connectionParams.
    authorize: (authorization) => tokenMatches(opts.serviceToken, authorization),
    // A call on a link is the grid calling: no request, the trace context its message carried.
    createContext: (link, deadlineAtMs) => ({
      req: null,
      link,
      obs: opts.obs,
      serviceToken: opts.serviceToken,
      apiKeys: opts.apiKeys,
      clientAddress: null,
      deadlineAtMs,
    }),
    addressKey: normalizeAddress,
    maxFrameBytes: MAX_BODY_BYTES,
    onInternalError: logInternal,
    // Internal procedures skip tRPC's middleware chain on a link: its handshake was the trust check.
    prepare: prepareInternal,
    ...(opts.links || {}),
  });
  const server = Bun.serve<LinkData>({
    hostname: opts.hostname,
    port: opts.port,
    development: false,
    // Bun's own hard stop; bodies are refused with a typed 413 far below it (readBodyLimited).
    maxRequestBodySize: 16 * MAX_BODY_BYTES,
    // Seconds a keep-alive connection may sit idle; long enough for pooled internal clients.
    idleTimeout: 30,
    websocket: links.websocket,
    // biome-ignore lint/complexity/noExcessiveCognitiveComplexity: all routes; split by the transport move
    async fetch(req, server) {
      const url = new URL(req.url);
      const { pathname } = url;
      if (pathname === "/trpc" && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        if (opts.links) return links.upgrade(req, server);
        const message = `${opts.service} takes no WebSocket: call /trpc over HTTP (subscriptions over SSE)`;
        return errorResponse(new TRPCError({ code: "NOT_FOUND", message }));
      }
      const ctx: RequestContext = {
        req,
        link: null,
        obs: opts.obs,
        serviceToken: opts.serviceToken,
        apiKeys: opts.apiKeys,
        clientAddress: clientAddress(
          server.requestIP(req)?.address,
          opts.trustedProxies.any ? req.headers.get("x-forwarded-for") : null,
          opts.trustedProxies,
        ),
        deadlineAtMs: deadlineFromBudget(req.headers.get(BUDGET_HEADER)),
      };
      let body = "";
      if (hasBody(req.method)) {
        try {
          body = await readBodyLimited(req, MAX_BODY_BYTES);
        } catch (err) {
          return errorResponse(err instanceof TRPCError ? err : new TRPCError({ code: "BAD_REQUEST" }));
        }
      }
      if (pathname.startsWith("/trpc/")) {
        const path = pathname.slice("/trpc/".length);
        // Queries are GET, mutations POST: anything else (OPTIONS, PUT...) is told so, not asked for JSON.
        if (req.method !== "GET" && req.method !== "POST") {
          const message = `${req.method} is not how tRPC is called: queries are GET, mutations POST`;
          const res = errorResponse(new TRPCError({ code: "METHOD_NOT_SUPPORTED", message }), path);
          res.headers.set("allow", "GET, POST");
          return res;
        }
        // Bodies are JSON; tRPC's adapter would answer anything else with an untyped text/plain 415.
        if (hasBody(req.method) && !isJson(req)) {
          return errorResponse(
            new TRPCError({
              code: "UNSUPPORTED_MEDIA_TYPE",
              message: "send the body as JSON: content-type: application/json",
            }),
            path,
          );
        }
        const fast = await lean(req, url, path, body, ctx);
        if (fast) return fast;
        // A batch's calls, each answered (a missing procedure too) before any quota counts it: bounded here.
        const tooMany = batchOverLimit(url, path, opts.maxBatchCalls ?? DEFAULT_MAX_BATCH_CALLS);
        if (tooMany) return errorResponse(tooMany);
        // Batches and anything unusual: tRPC's own adapter, on the body already read (and bounded).
        return fetchRequestHandler({
          endpoint: "/trpc",
          req: hasBody(req.method) ? new Request(req, { body }) : req,
          router: opts.router,
          createContext: () => ctx,
          // A backstop to batchOverLimit (tRPC's own count: 400 if ours ever missed a way to separate calls).
          maxBatchSize: opts.maxBatchCalls ?? DEFAULT_MAX_BATCH_CALLS,
          onError: ({ error, path }) => logInternal(error, path),
          responseMeta: retryAfterMeta,
        });
      }
      const health = await healthResponse(pathname, probes);
      if (health) return health;
      if (pathname === "/metrics") {
        if (opts.metricsToken && !tokenMatches(opts.metricsToken, req.headers.get("authorization"))) {
          return errorResponse(
            new TRPCError({
              code: "UNAUTHORIZED",
              message: "metrics need Authorization: Bearer <METRICS_TOKEN>",
            }),
          );
        }
        return new Response(await opts.telemetry.renderMetrics(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      const handler = extra[pathname];
      if (handler) return handler({ req, ctx, body });
      return errorResponse(
        new TRPCError({ code: "NOT_FOUND", message: `no route ${req.method} ${pathname}` }),
      );
    },
    error(err) {
      opts.log.error("unhandled request error", { error: err.message });
      return errorResponse(new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error" }));
    },
  });
  return { server, links };
}

/**
 * A tRPC batch (`?batch=1`, its procedures comma-separated in the path, as tRPC reads it: decoded, so `%2C`
 * separates too) of more calls than `max`. A path that does not decode is tRPC's to refuse.
 */
function batchOverLimit(url: URL, rawPath: string, max: number): TRPCError | null {
  if (url.searchParams.get("batch") !== "1") return null;
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return null;
  }
  let calls = 1;
  for (let i = 0; i < path.length && calls <= max; i++) if (path.charCodeAt(i) === 44) calls++;
  if (calls <= max) return null;
  const message = `a batch may carry at most ${max} calls; send fewer per request`;
  return new TRPCError({ code: "PAYLOAD_TOO_LARGE", message });
}

import { startTelemetry, type Telemetry, type TelemetryEnv } from "@evgrid/telemetry";
import type { AnyRouter } from "@trpc/server";
import { TrustedProxies } from "./address.ts";
import { openFilesLimit } from "./fd-limit.ts";
import type { ReadinessCheck } from "./health.ts";
import { listeningLine } from "./listening.ts";
import { createLogger, type LogFormat, type Logger } from "./log.ts";
import { type RpcObservability, rpcObservability } from "./observe.ts";
import { assertServiceToken, INSECURE_DEMO_WARNING } from "./secrets.ts";
import { type AppServer, type RouteHandler, serveApp } from "./server.ts";
import { ApiKeys } from "./token.ts";

export interface AppEnv extends TelemetryEnv {
  HOST: string;
  PORT: number;
  LOG_QUIET: boolean;
  LOG_FORMAT?: LogFormat;
  SERVICE_TOKEN: string;
  /** A short or published SERVICE_TOKEN is accepted, with a warning at start and on /healthz. */
  EVGRID_INSECURE_DEMO?: boolean;
  METRICS_TOKEN?: string | undefined;
  LINK_AUTH_TIMEOUT_MS?: number;
  LINK_MAX_PENDING_PER_ADDRESS?: number;
  MAX_BATCH_CALLS?: number;
  /** Only the public app (charge-api) reads these two. */
  API_KEYS?: readonly string[];
  TRUST_PROXY?: TrustedProxies;
}

export interface AppParts<Extra> {
  router: AnyRouter;
  /** Extra plain-HTTP routes (exact path match). */
  routes?: Record<string, RouteHandler>;
  /** Why the app cannot serve now (its dependency is missing), or null: what /readyz answers. */
  ready?: ReadinessCheck;
  /** False when no caller opens an internal link (WebSocket) to this app: upgrades are refused. */
  links?: boolean;
  /** Its name among the apps of its process: their links carry its calls too (a substation's id). */
  linkSite?: string;
  /** Facts for the start-up log line. */
  describe?: Record<string, unknown>;
  /** Runs before the server stops (timers, background loops, refusing new work). */
  stop?: () => void | Promise<void>;
  /** Runs once the server listens, with its real URL (e.g. to register with someone). */
  afterStart?: (server: AppServer) => void | Promise<void>;
  /** Runs once the server has stopped and in-flight requests are done (closing files). */
  afterStop?: () => void | Promise<void>;
  /** Handed back to the caller (tests reach into the station or the view). */
  expose: Extra;
}

export type RunningApp<Extra> = AppServer & Extra & { telemetry: Telemetry };

/**
 * The one way every app starts: telemetry, then the app's own parts, then the server; and stops in reverse.
 * An app's app.ts only says what its parts are.
 */
export async function launchApp<Extra>(
  service: string,
  version: string,
  env: AppEnv,
  build: (deps: {
    telemetry: Telemetry;
    obs: RpcObservability;
    log: Logger;
  }) => Promise<AppParts<Extra>> | AppParts<Extra>,
): Promise<RunningApp<Extra>> {
  // Also here, not only in loadEnv: tests and embedders build the env without it.
  assertServiceToken(env.SERVICE_TOKEN, env.EVGRID_INSECURE_DEMO === true);
  const telemetry = startTelemetry({ service, version, env });
  const log = createLogger({
    service: telemetry.serviceName,
    quiet: env.LOG_QUIET,
    format: env.LOG_FORMAT,
    onRecord: telemetry.emitLog,
  });
  if (env.EVGRID_INSECURE_DEMO) log.warn(INSECURE_DEMO_WARNING, { service });
  const files = openFilesLimit();
  if (files && files.soft < files.hard) log.warn("open-file limit below its hard limit", { ...files });
  const obs = rpcObservability(telemetry, telemetry.serviceName);
  const parts = await build({ telemetry, obs, log });
  const server = serveApp({
    service,
    version,
    router: parts.router,
    hostname: env.HOST,
    port: env.PORT,
    telemetry,
    obs,
    log,
    routes: parts.routes ?? {},
    serviceToken: env.SERVICE_TOKEN,
    apiKeys: new ApiKeys(env.API_KEYS ?? []),
    trustedProxies: env.TRUST_PROXY ?? TrustedProxies.none,
    metricsToken: env.METRICS_TOKEN,
    ready: parts.ready,
    insecureDemo: env.EVGRID_INSECURE_DEMO === true,
    links: parts.links === false ? false : linkLimits(env),
    maxBatchCalls: env.MAX_BATCH_CALLS,
    linkSite: parts.linkSite,
    openFilesLimit: files,
  });
  log.info(listeningLine(service), {
    url: server.url,
    ...parts.describe,
    tracing: telemetry.tracing,
    openFilesLimit: files?.soft,
  });
  await parts.afterStart?.(server);
  return {
    ...parts.expose,
    ...server,
    telemetry,
    async stop() {
      await parts.stop?.();
      await server.stop();
      await parts.afterStop?.();
      await telemetry.shutdown();
    },
  };
}

const linkLimits = (env: AppEnv) => ({
  authTimeoutMs: env.LINK_AUTH_TIMEOUT_MS ?? 5000,
  maxPendingPerAddress: env.LINK_MAX_PENDING_PER_ADDRESS ?? 16,
});

import { type AppServer, createLogger, createMetrics, serveApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { BalancerEnv } from "./env.ts";
import { balancerRouter } from "./router.ts";
import { GridView } from "./view.ts";

export interface RunningBalancer extends AppServer {
  view: GridView;
}

/** Wires config -> grid view (first refresh done) -> router -> server. */
export async function startBalancer(env: BalancerEnv): Promise<RunningBalancer> {
  const log = createLogger(env.LOG_QUIET);
  const metrics = createMetrics("balancer", pkg.version);
  const view = new GridView({ urls: env.SUBSTATION_URLS, callTimeoutMs: env.CALL_TIMEOUT_MS });
  await view.start(env.LOAD_REFRESH_MS);
  const router = balancerRouter(view, {
    maxTries: env.DISPATCH_MAX_TRIES,
    deadlineMs: env.DISPATCH_DEADLINE_MS,
  });
  const server = serveApp({
    service: "balancer",
    version: pkg.version,
    router,
    hostname: env.HOST,
    port: env.PORT,
    metrics,
    log,
  });
  log.info("balancer listening", {
    url: server.url,
    substations: view.status().map((s) => `${s.substationId ?? "?"}@${s.url}${s.healthy ? "" : " (down)"}`),
  });
  return {
    ...server,
    view,
    async stop() {
      view.stop();
      await server.stop();
      await metrics.shutdown();
    },
  };
}

import type { BalancerRouter } from "@evgrid/balancer";
import { type AppServer, createLogger, createMetrics, internalClient, serveApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { ChargeApiEnv } from "./env.ts";
import { legacyRequestCharge } from "./legacy.ts";
import { chargeApiRouter } from "./router.ts";

/** Wires config -> balancer client -> router (+ legacy text route) -> server. */
export function startChargeApi(env: ChargeApiEnv): AppServer {
  const log = createLogger(env.LOG_QUIET);
  const metrics = createMetrics("charge-api", pkg.version);
  const balancer = internalClient<BalancerRouter>(env.BALANCER_URL, env.CALL_TIMEOUT_MS);
  const router = chargeApiRouter(balancer);
  const caller = router.createCaller({ req: null });
  const server = serveApp({
    service: "charge-api",
    version: pkg.version,
    router,
    hostname: env.HOST,
    port: env.PORT,
    metrics,
    log,
    routes: { "/request_charge": legacyRequestCharge(caller) },
  });
  log.info("charge-api listening", { url: server.url, balancer: env.BALANCER_URL });
  return {
    ...server,
    async stop() {
      await server.stop();
      await metrics.shutdown();
    },
  };
}

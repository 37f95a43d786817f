import type { BalancerRouter } from "@evgrid/balancer";
import { balancerPool } from "@evgrid/balancer/pool";
import { internalClient, launchApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import { ChargeDesk } from "./desk.ts";
import type { ChargeApiEnv } from "./env.ts";
import { legacyRequestCharge } from "./legacy.ts";
import { openApiRoute } from "./openapi.ts";
import { RateLimiter } from "./rate-limit.ts";
import { chargeApiRouter } from "./router.ts";

/** Wires config -> telemetry -> balancer client -> desk -> router (+ legacy text route) -> server. */
export function startChargeApi(env: ChargeApiEnv) {
  return launchApp("charge-api", pkg.version, env, async ({ obs, log }) => {
    const balancers = balancerPool(
      env.BALANCER_URLS,
      (url) =>
        internalClient<BalancerRouter>(url, {
          transport: env.INTERNAL_TRANSPORT,
          timeoutMs: env.CALL_TIMEOUT_MS,
          obs,
          peer: "balancer",
          token: env.SERVICE_TOKEN,
        }),
      log,
    );
    // Which replicas are up and share state, before the first request.
    if (balancers.count > 1) await balancers.check();
    const desk = new ChargeDesk(balancers, {
      callTimeoutMs: env.CALL_TIMEOUT_MS,
      serviceToken: env.SERVICE_TOKEN,
      rate: new RateLimiter({ ratePerS: env.QUOTA_RPS, burst: env.QUOTA_BURST }),
      maxWaiting: env.MAX_WAITING,
      priorities: env.API_KEY_PRIORITIES,
      watchers:
        env.INTERNAL_TRANSPORT === "ws" ? { perCaller: env.QUOTA_WATCHERS, total: env.MAX_WATCHERS } : null,
    });
    const router = chargeApiRouter(desk);
    return {
      router,
      ready: () => (balancers.healthyCount > 0 ? null : `no balancer answers (${balancers.count} listed)`),
      routes: { "/request_charge": legacyRequestCharge(router), "/openapi.json": openApiRoute(router) },
      // The public API is HTTP (+ SSE): nobody opens a link to it, so no WebSocket may tie up its sockets.
      links: false,
      describe: {
        balancers: env.BALANCER_URLS.join(","),
        transport: env.INTERNAL_TRANSPORT,
        access: env.API_KEYS.length > 0 ? `${env.API_KEYS.length} API keys` : "open (session secrets)",
        quotaRps: env.QUOTA_RPS,
      },
      stop: () => balancers.close(),
      expose: {},
    };
  });
}

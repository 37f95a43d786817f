import type { BalancerRouter } from "@evgrid/balancer";
import { closeLink, internalClient, launchApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { ChargeApiEnv } from "./env.ts";
import { legacyRequestCharge } from "./legacy.ts";
import { RateLimiter } from "./rate-limit.ts";
import { chargeApiRouter } from "./router.ts";

/** Wires config -> telemetry -> balancer client -> router (+ legacy text route) -> server. */
export function startChargeApi(env: ChargeApiEnv) {
  return launchApp("charge-api", pkg.version, env, ({ obs }) => {
    const balancer = internalClient<BalancerRouter>(env.BALANCER_URL, {
      transport: env.INTERNAL_TRANSPORT,
      timeoutMs: env.CALL_TIMEOUT_MS,
      obs,
      peer: "balancer",
      token: env.SERVICE_TOKEN,
    });
    const router = chargeApiRouter(balancer, {
      callTimeoutMs: env.CALL_TIMEOUT_MS,
      serviceToken: env.SERVICE_TOKEN,
      rate: new RateLimiter({ ratePerS: env.QUOTA_RPS, burst: env.QUOTA_BURST }),
      maxWaiting: env.MAX_WAITING,
      watchers:
        env.INTERNAL_TRANSPORT === "ws" ? { perCaller: env.QUOTA_WATCHERS, total: env.MAX_WATCHERS } : null,
    });
    return {
      router,
      routes: { "/request_charge": legacyRequestCharge(router) },
      describe: {
        balancer: env.BALANCER_URL,
        transport: env.INTERNAL_TRANSPORT,
        access: env.API_KEYS.length > 0 ? `${env.API_KEYS.length} API keys` : "open (session secrets)",
        quotaRps: env.QUOTA_RPS,
      },
      stop: () => balancer[closeLink](),
      expose: {},
    };
  });
}

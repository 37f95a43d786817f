import type { BalancerRouter } from "@evgrid/balancer";
import { internalClient, launchApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { ChargeApiEnv } from "./env.ts";
import { legacyRequestCharge } from "./legacy.ts";
import { chargeApiRouter } from "./router.ts";

/** Wires config -> telemetry -> balancer client -> router (+ legacy text route) -> server. */
export function startChargeApi(env: ChargeApiEnv) {
  return launchApp("charge-api", pkg.version, env, ({ obs }) => {
    const balancer = internalClient<BalancerRouter>(env.BALANCER_URL, {
      timeoutMs: env.CALL_TIMEOUT_MS,
      obs,
      peer: "balancer",
      token: env.SERVICE_TOKEN,
    });
    const router = chargeApiRouter(balancer, env.CALL_TIMEOUT_MS, env.SERVICE_TOKEN);
    return {
      router,
      routes: { "/request_charge": legacyRequestCharge(router, env.API_KEYS) },
      describe: { balancer: env.BALANCER_URL },
      expose: {},
    };
  });
}

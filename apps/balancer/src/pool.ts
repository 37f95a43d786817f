import { type Logger, ReplicaPool } from "@evgrid/kit";
import type { InternalClient } from "@evgrid/link";
import type { BalancerRouter } from "./router.ts";

/** The balancer replicas a caller (the charge-api, the OCPP gateway) spreads its calls over. */
export type Balancers = ReplicaPool<BalancerRouter>;

/**
 * A pool of balancer replicas: a replica is up if it answers `stateInfo`, and an uncertain call may be tried
 * again on another only while both share state (REDIS_URL, the store reachable).
 */
export function balancerPool(
  urls: readonly string[],
  client: (url: string) => InternalClient<BalancerRouter>,
  log?: Logger,
): Balancers {
  return new ReplicaPool<BalancerRouter>(urls, client, {
    what: "balancer",
    ...(log ? { log } : {}),
    probe: async (c) => {
      const info = await c.stateInfo.query(undefined, { context: { timeoutMs: 1000 } });
      return info.shared && info.storeUp;
    },
  });
}

import { describeFailure, internalClient, type Logger } from "@evgrid/kit";
import type { MembershipRouter } from "./procedures.ts";

export interface MembershipOptions {
  balancerUrls: readonly string[];
  /** The URL balancers should call this substation on. */
  advertiseUrl: string;
  token: string;
  intervalMs: number;
  log: Logger;
}

/**
 * Registers this substation with every balancer and keeps heartbeating (a heartbeat is a re-registration,
 * so a balancer that restarted learns about it again within one interval). `stop` deregisters, so a
 * graceful shutdown leaves rotation at once instead of after the heartbeat timeout.
 */
export function joinBalancers(opts: MembershipOptions) {
  const clients = opts.balancerUrls.map((url) => ({
    url,
    client: internalClient<MembershipRouter>(url, {
      timeoutMs: Math.min(2000, opts.intervalMs),
      token: opts.token,
    }),
    failing: false,
  }));
  const beat = () =>
    Promise.all(
      clients.map(async (b) => {
        try {
          await b.client.register.mutate({ url: opts.advertiseUrl });
          if (b.failing) opts.log.info("registered with balancer again", { balancer: b.url });
          b.failing = false;
        } catch (err) {
          if (!b.failing)
            opts.log.warn("cannot register with balancer; retrying", {
              balancer: b.url,
              error: describeFailure(err),
            });
          b.failing = true;
        }
      }),
    );
  void beat();
  const timer = setInterval(() => void beat(), opts.intervalMs);
  return {
    /** Stops heartbeating; with `deregister`, also tells the balancers to drop this substation now. */
    async stop(deregister = true) {
      clearInterval(timer);
      if (!deregister) return;
      await Promise.allSettled(clients.map((b) => b.client.deregister.mutate({ url: opts.advertiseUrl })));
    },
  };
}

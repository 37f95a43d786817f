import { lookup } from "node:dns/promises";
import { type Logger, within } from "@evgrid/kit";
import { describeFailure, type InternalClient, internalClient } from "@evgrid/link";
import type { MembershipRouter } from "./procedures.ts";

export interface MembershipOptions {
  balancerUrls: readonly string[];
  /**
   * "dns": each balancer URL's host is looked up on every heartbeat and every address it names is joined
   * (a Kubernetes headless Service naming each balancer replica, which a plain Service would hide behind
   * one). "urls": each URL is one balancer.
   */
  discovery?: "urls" | "dns";
  /** How "dns" looks a host up (tests name several addresses without a DNS server). */
  lookup?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** The URL balancers should call this substation on. */
  advertiseUrl: string;
  token: string;
  intervalMs: number;
  log: Logger;
}

/** How long a graceful stop waits for each balancer to drop this substation, whatever the heartbeat interval. */
const DEREGISTER_MS = 2000;

interface Balancer {
  url: string;
  client: InternalClient<MembershipRouter>;
  failing: boolean;
}

/** Every address a URL's host names, as URLs (the same URL when the host is an address already). */
async function addressesOf(url: string, resolve: MembershipOptions["lookup"]): Promise<string[]> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const found = await (resolve ?? ((h: string) => lookup(h, { all: true })))(host);
  return found.map(({ address, family }) => {
    const each = new URL(url);
    each.hostname = family === 6 ? `[${address}]` : address;
    return each.toString().replace(/\/$/, "");
  });
}

/**
 * Registers this substation with every balancer and keeps heartbeating (a heartbeat is a re-registration,
 * so a balancer that restarted learns about it again within one interval). `stop` deregisters, so a
 * graceful shutdown leaves rotation at once instead of after the heartbeat timeout.
 */
export function joinBalancers(opts: MembershipOptions) {
  const balancers = new Map<string, Balancer>();
  const balancerAt = (url: string): Balancer => {
    let b = balancers.get(url);
    if (!b) {
      const client = internalClient<MembershipRouter>(url, {
        timeoutMs: Math.min(2000, opts.intervalMs),
        token: opts.token,
      });
      b = { url, client, failing: false };
      balancers.set(url, b);
    }
    return b;
  };
  /** The balancers to heartbeat now: the URLs, or (dns) the addresses they name now. */
  const current = async (): Promise<Balancer[]> => {
    if (opts.discovery !== "dns") return opts.balancerUrls.map(balancerAt);
    const named = new Set<string>();
    for (const url of opts.balancerUrls) {
      try {
        for (const each of await addressesOf(url, opts.lookup)) named.add(each);
      } catch (err) {
        opts.log.warn("cannot look up balancers; retrying", { balancers: url, error: describeFailure(err) });
      }
    }
    // Replicas that are gone (scaled down, replaced) are forgotten; they forget this substation themselves.
    for (const url of balancers.keys()) if (!named.has(url)) balancers.delete(url);
    return [...named].map(balancerAt);
  };
  const beat = async () =>
    Promise.all(
      (await current()).map(async (b) => {
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
  /** The heartbeat under way (each balancer's failure is logged in it; nothing else may reject it). */
  let beating: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    if (!stopped) beating = beat().catch(() => {});
  };
  tick();
  const heartbeats = setInterval(tick, opts.intervalMs);
  return {
    /** Stops heartbeating; with `deregister`, also tells the balancers to drop this substation now. */
    async stop(deregister = true) {
      stopped = true;
      clearInterval(heartbeats);
      if (!deregister) return;
      // A heartbeat still under way (looking balancers up, or its register not sent yet) would join them
      // again after the goodbye: it goes first, for as long as a goodbye may take (a lookup that hangs must
      // not hold the shutdown). The goodbye may take longer than a heartbeat's timeout.
      await within(beating, DEREGISTER_MS, undefined);
      await Promise.allSettled(
        [...balancers.values()].map((b) =>
          b.client.deregister.mutate({ url: opts.advertiseUrl }, { context: { timeoutMs: DEREGISTER_MS } }),
        ),
      );
    },
  };
}

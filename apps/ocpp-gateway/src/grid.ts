import type { BalancerRouter } from "@evgrid/balancer";
import { type Balancers, balancerPool } from "@evgrid/balancer/pool";
import type { PowerEvent } from "@evgrid/contract";
import {
  closeLink,
  type InternalClient,
  internalClient,
  type RpcObservability,
  type Transport,
} from "@evgrid/kit";
import { delay } from "@evgrid/kit/retry";
import type { SubstationRouter } from "@evgrid/substation";

export interface GridOptions {
  balancerUrls: readonly string[];
  token: string;
  transport: Transport;
  timeoutMs: number;
  obs: RpcObservability;
  onPower: (event: PowerEvent) => void;
  onError: (substationId: string, err: Error) => void;
}

interface Site {
  url: string;
  client: InternalClient<SubstationRouter>;
  /** The watchPower subscription (null: not watched, no charge point of ours there). */
  watch: { unsubscribe(): void } | null;
}

/**
 * The gateway's side of the grid: the balancer (dispatch, finding sessions, the substations' addresses) and
 * one link per substation that has our charge points, each with a watchPower subscription. Power changes
 * arrive as events; nothing is polled. The substation list is re-read every few seconds so a substation
 * that moves or joins late is found.
 */
export class Grid {
  /** The balancer replicas; a walk-in's dispatch carries its idempotency key, so it may move between them. */
  readonly balancers: Balancers;
  private readonly sites = new Map<string, Site>();
  private wanted = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: GridOptions) {
    this.balancers = balancerPool(opts.balancerUrls, (url) =>
      internalClient<BalancerRouter>(url, {
        transport: opts.transport,
        timeoutMs: opts.timeoutMs,
        obs: opts.obs,
        peer: "balancer",
        token: opts.token,
      }),
    );
  }

  /** Learns the substations' addresses now (a failure is retried by the timer) and every `everyMs`. */
  async start(everyMs = 3000): Promise<void> {
    // Which replicas are up and share state, before the first call.
    if (this.balancers.count > 1) await this.balancers.check();
    await this.refresh().catch(() => {});
    this.timer = setInterval(() => void this.refresh().catch(() => {}), everyMs);
  }

  /** The substations whose power is watched: those with one of our charge points. */
  watchOnly(substationIds: Iterable<string>): void {
    this.wanted = new Set(substationIds);
    for (const [id, site] of this.sites) this.syncWatch(id, site);
  }

  /** A substation's client, or undefined while its address is unknown. */
  site(substationId: string): InternalClient<SubstationRouter> | undefined {
    return this.sites.get(substationId)?.client;
  }

  async refresh(): Promise<void> {
    const members = await this.balancers.call((b) => b.listSubstations.query());
    for (const m of members) {
      if (m.substationId === null) continue;
      const known = this.sites.get(m.substationId);
      if (known?.url === m.url) continue;
      if (known) this.drop(m.substationId, known);
      const client = internalClient<SubstationRouter>(m.url, {
        transport: this.opts.transport,
        timeoutMs: this.opts.timeoutMs,
        obs: this.opts.obs,
        peer: "substation",
        token: this.opts.token,
      });
      const site: Site = { url: m.url, client, watch: null };
      this.sites.set(m.substationId, site);
      this.syncWatch(m.substationId, site);
    }
  }

  private syncWatch(substationId: string, site: Site): void {
    const want = this.wanted.has(substationId);
    if (want && !site.watch) {
      site.watch = site.client.watchPower.subscribe(undefined, {
        onData: (e) => this.opts.onPower(e as PowerEvent),
        onError: (err) => {
          this.opts.onError(substationId, err);
          site.watch = null;
          // The link reopens on its own; an error from the substation itself is retried after a pause.
          void delay(1000, this.stopping.signal).then((go) => go && this.syncWatch(substationId, site));
        },
        onComplete: () => {
          site.watch = null;
        },
      });
    } else if (!want && site.watch) {
      site.watch.unsubscribe();
      site.watch = null;
    }
  }

  private drop(id: string, site: Site): void {
    site.watch?.unsubscribe();
    site.client[closeLink]();
    this.sites.delete(id);
  }

  stop(): void {
    this.stopping.abort();
    clearInterval(this.timer);
    for (const [id, site] of this.sites) this.drop(id, site);
    this.balancers.close();
  }
}

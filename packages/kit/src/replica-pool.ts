import { classifyCallFailure, closeLink, type InternalClient } from "@evgrid/link";
import { TRPCClientError } from "@trpc/client";
import type { AnyRouter } from "@trpc/server";
import type { Logger } from "./log.ts";

interface Replica<TRouter extends AnyRouter> {
  url: string;
  client: InternalClient<TRouter>;
  /** Answered its last check (or has not been checked yet). */
  healthy: boolean;
  /** Shares state with the others (REDIS_URL set and reachable) as of its last check. */
  shared: boolean;
}

export interface ReplicaPoolOptions<TRouter extends AnyRouter> {
  /**
   * Asks one replica whether it is up (it answers) and shares state with the others (true): what decides
   * whether an uncertain call may be tried again elsewhere.
   */
  probe: (client: InternalClient<TRouter>) => Promise<boolean>;
  /** How often every replica is probed. */
  checkMs?: number;
  /** What the replicas are, for log lines ("balancer replica ..."). */
  what?: string;
  log?: Logger;
}

/**
 * Replicas of one service (the balancers, for the charge-api and the OCPP gateway), each over its own link. Calls go round-robin
 * over the healthy ones; a replica that refuses the connection (certainly did nothing) is marked down and the
 * call goes to the next. A call that may have run (a timeout, a dropped link) is tried again elsewhere only
 * when both replicas share state: the caller gives the same idempotency key, so the shared claim sends the
 * retry where the first try went, and it can never make a second session. Without shared state that retry
 * could, so the failure is the caller's answer, as with one balancer.
 */
export class ReplicaPool<TRouter extends AnyRouter> {
  private readonly replicas: Replica<TRouter>[];
  private next = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    urls: readonly string[],
    client: (url: string) => InternalClient<TRouter>,
    private readonly opts: ReplicaPoolOptions<TRouter>,
  ) {
    this.replicas = urls.map((url) => ({ url, client: client(url), healthy: true, shared: false }));
    this.timer = setInterval(() => void this.check(), opts.checkMs ?? 2000);
    this.timer.unref();
  }

  private get what(): string {
    return this.opts.what ?? "service";
  }

  get count(): number {
    return this.replicas.length;
  }

  /** Replicas that answered their last check (or have not been checked yet). */
  get healthyCount(): number {
    return this.replicas.filter((r) => r.healthy).length;
  }

  /** Every replica shares state right now: an uncertain dispatch may be retried on another one. */
  get allShared(): boolean {
    return this.replicas.every((r) => r.shared);
  }

  /** Asks every replica whether it is up and shares state (also at start, before the first call). */
  async check(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (r) => {
        try {
          const shared = await this.opts.probe(r.client);
          if (!r.healthy) this.opts.log?.info(`${this.what} replica answers again`, { url: r.url });
          r.healthy = true;
          r.shared = shared;
        } catch {
          if (r.healthy)
            this.opts.log?.warn(`${this.what} replica does not answer; calls skip it`, { url: r.url });
          r.healthy = false;
          r.shared = false;
        }
      }),
    );
  }

  /**
   * Runs `call` on a replica: the next healthy one, then the others if a replica refuses the connection, or
   * (with `retryUncertain`, when both share state) if its answer never came. `attempt` counts from 0.
   */
  async call<T>(
    call: (client: InternalClient<TRouter>, attempt: number) => Promise<T>,
    opts: { retryUncertain?: boolean } = {},
  ): Promise<T> {
    const order = this.order();
    let lastError: unknown;
    // Once a try may have run, no later failure can say nothing was done: the answer stays uncertain.
    let uncertain: unknown;
    for (const [i, r] of order.entries()) {
      try {
        return await call(r.client, i);
      } catch (err) {
        lastError = uncertain ?? err;
        // Only a call's own failures decide a retry; anything else (a bug, a refusal raised here) is the answer.
        if (!(err instanceof TRPCClientError)) throw uncertain ?? err;
        const failure = classifyCallFailure(err);
        if (failure === "answered") throw uncertain ?? err;
        if (failure === "unreachable") {
          r.healthy = false;
          continue;
        }
        // Uncertain: elsewhere only if this one and the next share state (same key, same claim).
        uncertain ??= err;
        lastError = uncertain;
        const nextReplica = order[i + 1];
        if (!opts.retryUncertain || !r.shared || !nextReplica?.shared) throw uncertain;
      }
    }
    throw lastError;
  }

  /** A replica for a subscription (its link re-subscribes there if it drops). */
  pick(): InternalClient<TRouter> {
    return (this.order()[0] as Replica<TRouter>).client;
  }

  close(): void {
    clearInterval(this.timer);
    for (const r of this.replicas) r.client[closeLink]();
  }

  /** Healthy replicas first, starting round-robin; the others after, in case they are back. */
  private order(): Replica<TRouter>[] {
    const n = this.replicas.length;
    const start = this.next++ % n;
    const rotated = Array.from({ length: n }, (_, i) => this.replicas[(start + i) % n] as Replica<TRouter>);
    return [...rotated.filter((r) => r.healthy), ...rotated.filter((r) => !r.healthy)];
  }
}

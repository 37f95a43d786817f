import type { DispatchRequest } from "@evgrid/contract";
import { Backoff, systemScheduler } from "@evgrid/kit";
import { parseHome, rebuilding, storeKeys, storeNowMs, writeHomes } from "./rebuild.ts";
import { RedisLink, StoreUnavailable } from "./redis-link.ts";
import { EPOCH } from "./redis-scripts.ts";
import { RedisWaitOrder } from "./redis-wait-order.ts";
import { claimShared, type SharedClaimContext } from "./shared-claim.ts";
import type { RedisStoreOptions } from "./store-connection.ts";
import { type EvictionCheck, EvictionWatch } from "./store-evictions.ts";
import type { Claim, DispatchResult, DispatchStore, WaitOrder } from "./types.ts";

/** How long a starting balancer waits for the store before it starts without it (and keeps trying). */
const START_WAIT_MS = 2000;

/**
 * The dispatch store shared by every replica in Valkey/Redis (`REDIS_URL`): for each idempotency key and
 * each vehicle, who is dispatching it right now and where it went (redis-scripts.ts). While it is silent, a
 * request goes where the substations hold its key or vehicle, else to its vehicle's hashed home (degraded.ts).
 * A store that forgot (its epoch changed) or was silent is trusted again once this replica has rebuilt the
 * homes from the substations; meanwhile only requests whose home the substations know are dispatched (there).
 */
export class RedisStore implements DispatchStore {
  readonly shared = true;
  readonly waitOrder: WaitOrder;
  private readonly link: RedisLink;
  private readonly now: () => number;
  private reachable = false;
  private epoch: string | undefined; // as this replica knows the store; undefined until it first answered
  private trusted = false; // the store holds every session of the grid (rebuilt since it forgot or was silent)
  private evicts = false; // its maxmemory-policy may drop claims: never trusted (store-evictions.ts)
  private rebuildRound = 0;
  private rebuildNotBeforeMs = 0; // the lease a rebuild waits out (forgot): claims before it may still land
  private distrustedAtMs: number; // since when absent claims prove nothing (lost, forgot, or at start)
  private health: ReturnType<typeof setInterval> | undefined;
  private readonly claimSide: SharedClaimContext;
  private readonly evictions: EvictionWatch;

  constructor(private readonly opts: RedisStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.distrustedAtMs = this.now(); // the window applies at start too
    this.link = new RedisLink(opts, opts.commandTimeoutMs);
    this.claimSide = {
      claimer: { ...opts, link: this.link, now: this.now },
      link: this.link,
      opts,
      now: this.now,
      distrustedSince: () => (this.trusted ? null : this.distrustedAtMs),
      markDown: (err) => this.markDown(err),
    };
    this.evictions = new EvictionWatch(opts.log);
    this.waitOrder = new RedisWaitOrder(crypto.randomUUID(), {
      link: this.link,
      available: () => this.reachable,
      failed: (err) => this.markDown(err),
      badValue: () => opts.onBadValue?.(),
      now: this.now,
    });
  }

  /** Connects (or notes the store is down and keeps trying): a replica starts either way. */
  async start(): Promise<void> {
    void this.link.connect();
    const deadline = this.now() + START_WAIT_MS;
    // Up and trusted (marked rebuilt, or rebuilt: a new store), or the deadline: it starts either way.
    // Ref'd timers: the replica has nothing else holding the process open before its server starts.
    const backoff = new Backoff({ delayMs: 100, maxDelayMs: 500, scheduler: systemScheduler });
    while (!((await this.probe()) && (this.trusted || this.evicts)) && this.now() < deadline)
      await backoff.wait();
    if (!this.reachable)
      this.opts.log?.warn("state store unreachable at start: placing as the substations say");
    // Every second, whatever the traffic: the gauge, the fallback and the epoch follow the store.
    this.health = setInterval(() => void this.probe(), 1000);
    this.health.unref?.();
  }

  get up(): boolean {
    return this.reachable;
  }

  get rebuilding(): boolean {
    return this.reachable && !this.trusted && !this.evicts;
  }

  get evicting(): boolean {
    return this.evicts;
  }

  get hashing(): boolean {
    return !this.trusted && this.now() >= this.distrustedAtMs + this.opts.leaseMs;
  }

  close(): void {
    clearInterval(this.health);
    this.rebuildRound += 1;
    this.link.close();
  }

  // In this process, whatever the store: concurrent requests with one key share one dispatch here.
  coalesce = (req: DispatchRequest, dispatch: () => Promise<DispatchResult>) =>
    this.opts.fallback.coalesce(req, dispatch);
  isRetry = (req: DispatchRequest) => this.opts.fallback.isRetry(req);

  async claim(req: DispatchRequest, deadlineMs: number): Promise<Claim> {
    for (let round = 0; this.reachable && this.epoch !== undefined && round < 2; round++) {
      try {
        const claim = await claimShared(this.claimSide, req, deadlineMs, this.epoch);
        if (claim) return claim;
        await this.probe(); // the epoch changed: learn the new one, then claim under it
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) throw err;
        this.markDown(err);
      }
    }
    if (this.reachable && this.epoch !== undefined) throw rebuilding(this.opts.leaseMs);
    // The store is silent: where the substations say, or the vehicle's hashed home (degraded.ts).
    const home = await this.opts.degradedHome(req, this.distrustedAtMs);
    return { ...(await this.opts.fallback.claim(req)), home, pinned: true };
  }

  async vehicleHome(vehicleId: string): Promise<string | undefined> {
    // A key of another type is garbage (counted), not a store down.
    const raw = this.reachable
      ? await this.link
          .send("GET", [storeKeys.vehicle(vehicleId)])
          .catch((err) => (String(err).includes("WRONGTYPE") ? "" : this.markDown(err)))
      : undefined;
    return parseHome(raw, this.opts.onBadValue) ?? this.opts.fallback.vehicleHome(vehicleId);
  }

  async forgetVehicle(vehicleId: string): Promise<void> {
    await this.opts.fallback.forgetVehicle(vehicleId);
    if (this.reachable)
      await this.link.send("DEL", [storeKeys.vehicle(vehicleId)]).catch((err) => this.markDown(err));
  }

  /** Does the store answer, is it the one this replica knew, and may it drop keys? */
  private async probe(): Promise<boolean> {
    const seen = await this.evictions.check(() => this.link.send("INFO", []));
    if (!(await this.probeEpoch(seen?.runId ?? ""))) return false;
    if (seen) this.followEvictions(seen);
    return true;
  }

  /** A store that evicted keys forgot some: rebuilt. One whose policy may evict is not trusted at all. */
  private followEvictions(seen: EvictionCheck): void {
    const was = this.evicts;
    this.evicts = seen.evicting;
    this.opts.onEvicting?.(seen.evicting);
    if (seen.evicting && !was) {
      this.opts.log?.error(
        `state store may evict keys (maxmemory-policy ${seen.policy}): a dropped claim would let a vehicle or key start a second session, so it is not trusted; placing as when it cannot vouch. Set maxmemory-policy noeviction`,
      );
      this.trusted = false;
      this.distrustedAtMs = this.now();
    }
    // While it may evict it is not trusted anyway: what it evicts changes nothing (counted as a new loss each
    // second, new vehicles were refused for as long as it stayed full: a review).
    if (seen.evictedSince > 0 && !seen.evicting) {
      this.opts.onReset?.();
      this.opts.log?.warn(
        `state store evicted ${seen.evictedSince} keys: rebuilding it from the substations`,
      );
      this.distrustedAtMs = this.now();
      this.forgot(this.opts.leaseMs);
    } else if (was && !seen.evicting) {
      // Claims made while it evicted may still land: a lease first, as after a reset (unknown vehicles still
      // go to their hashed home meanwhile).
      this.opts.log?.info("state store no longer evicts: rebuilt from the substations before trusted");
      this.forgot(this.opts.leaseMs);
    }
  }

  /** Does the store answer, and is it the one this replica knew? (Learns its epoch, or a new one.) */
  private async probeEpoch(runId: string): Promise<boolean> {
    let answer: [string, number];
    try {
      const ttlMs = String(this.opts.keyTtlMs + this.opts.leaseMs);
      const keys = [storeKeys.epoch, storeKeys.run];
      answer = (await this.link.run(EPOCH, keys, [crypto.randomUUID(), ttlMs, runId])) as [string, number];
    } catch (err) {
      this.markDown(err);
      return false;
    }
    const [epoch, created] = answer;
    const back = !this.reachable && this.epoch !== undefined;
    if (back) this.opts.log?.info("state store reachable again: rebuilt from the substations before trusted");
    this.reachable = true;
    if (epoch === this.epoch) {
      // Sessions were started without it meanwhile (here, or by hash at another replica): rebuilt first,
      // and a replica starting meanwhile does not trust it either.
      if (back) {
        void this.link.send("DEL", [storeKeys.rebuilt]).catch(() => {});
        this.forgot(this.opts.leaseMs);
      }
      return true;
    }
    const known = this.epoch !== undefined;
    this.epoch = epoch;
    if (known) this.distrustedAtMs = this.now();
    // A store this replica never knew, found with an epoch: trusted once it is marked rebuilt under it.
    if (!known && !created) this.forgot(this.opts.leaseMs, true);
    else {
      if (known) this.opts.onReset?.();
      if (known) this.opts.log?.warn("state store forgot the dispatch state (epoch changed): rebuilding it");
      // Dispatches claimed before it forgot may still land; a new one: none.
      this.forgot(known ? this.opts.leaseMs : 0);
    }
    return true;
  }

  /** Absent claims prove nothing until the homes are rebuilt from the substations, after `waitMs`. */
  private forgot(waitMs: number, fresh = false): void {
    this.trusted = false;
    const round = ++this.rebuildRound;
    // Never sooner than a wait already running asked: a later reason must not cut a lease short.
    const untilMs = Math.max(this.rebuildNotBeforeMs, this.now() + waitMs);
    this.rebuildNotBeforeMs = untilMs;
    const attempt = async (): Promise<void> => {
      if (round !== this.rebuildRound) return;
      // Started on a store another replica is rebuilding: its mark, when it comes, is enough.
      const marked =
        fresh && (await this.link.send("GET", [storeKeys.rebuilt]).catch(() => null)) === this.epoch;
      const done = marked || (this.now() >= untilMs && (await this.rebuild()));
      if (round !== this.rebuildRound) return; // it forgot again meanwhile: a newer round rebuilds
      if (!done) setTimeout(() => void attempt(), this.now() < untilMs ? 200 : 1000).unref?.();
      else if (!this.evicts) {
        this.trusted = true;
        this.opts.log?.info("state store rebuilt from the substations: claims are trusted again");
      }
    };
    setTimeout(() => void attempt(), fresh ? 0 : waitMs).unref?.();
  }

  /** Writes every home the substations' sessions imply (never over a newer claim); false if incomplete. */
  private async rebuild(): Promise<boolean> {
    let listedAtMs: number;
    try {
      listedAtMs = await storeNowMs(this.link); // read first: a claim written after it is newer than the list
    } catch (err) {
      this.markDown(err);
      return false;
    }
    const sessions = await this.opts.sessions();
    if (sessions === null || !this.reachable) return false;
    const epoch = this.epoch;
    try {
      if (epoch !== undefined)
        await writeHomes(this.link, sessions, epoch, this.opts, this.now(), listedAtMs);
    } catch (err) {
      this.markDown(err);
      return false;
    }
    // Rebuilt into the store it meant to: if it forgot again meanwhile, the next round does it again.
    return (await this.probe()) && this.epoch === epoch;
  }

  private markDown(err: unknown): void {
    if (this.reachable) {
      this.distrustedAtMs = this.now();
      this.trusted = false;
      this.rebuildRound += 1; // a rebuild under way is redone once the store is back
      this.opts.log?.warn(
        "state store unreachable: requests go where the substations say, or to a hashed home",
        {
          error: err instanceof Error ? err.message : String(err),
        },
      );
    }
    this.reachable = false;
  }
}

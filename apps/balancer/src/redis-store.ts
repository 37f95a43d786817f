import { type DispatchRequest, reasons, type Session } from "@evgrid/contract";
import { Backoff, GridError, type Logger, systemScheduler } from "@evgrid/kit";
import type { MemoryStore } from "./memory.ts";
import { homesOf, rebuilding, storeKeys } from "./rebuild.ts";
import { type Claimer, claimKey, claimOnce } from "./redis-claim.ts";
import { RedisLink, StoreUnavailable } from "./redis-link.ts";
import { EPOCH, FINISH, TRYING } from "./redis-scripts.ts";
import { RedisWaitOrder } from "./redis-wait-order.ts";
import type { StoreConnection } from "./store-connection.ts";
import type { Claim, DispatchResult, DispatchStore, WaitOrder } from "./types.ts";

/** Where the store is and how to log in (credentials, TLS): store-connection.ts. */
export interface RedisStoreOptions extends StoreConnection {
  /** How long an idempotency key is honoured. */
  keyTtlMs: number;
  /** How long a claim holds without being finished (a dispatch's deadline, and some). */
  leaseMs: number;
  /** Each store command at most: past it, the store is down for that call (well inside the deadline). */
  commandTimeoutMs: number;
  /** This replica's own memory: written through, and used alone while the store is down. */
  fallback: MemoryStore;
  /** Every session of the grid (null if a substation did not answer): what a forgetful store is rebuilt from. */
  sessions: () => Promise<Session[] | null>;
  /** The substation of a vehicle's active session (undefined: none; null: a substation did not answer). */
  locate: (vehicleId: string) => Promise<string | undefined | null>;
  /** The store forgot (its epoch changed or vanished): a counter, and an alert. */
  onReset?: () => void;
  /** A value that does not parse (or was planted without expiry) was treated as absent. */
  onBadValue?: () => void;
  log?: Logger;
  now?: () => number;
}

/** How long a starting balancer waits for the store before it starts without it (and keeps trying). */
const START_WAIT_MS = 2000;

/**
 * The dispatch store shared by every replica in Valkey/Redis (`REDIS_URL`): for each idempotency key and
 * each vehicle, who is dispatching it right now and where it went (redis-scripts.ts says how). While the
 * store does not answer, each replica keeps to its own memory (`fallback`), as with one replica; it comes
 * back by itself. A store that forgot (its epoch changed: FLUSHALL, a restart without persistence, a
 * failover to an empty replica) is not trusted until this replica has rebuilt the vehicles' and keys'
 * homes from the substations: meanwhile only requests whose home is known are dispatched (there).
 */
export class RedisStore implements DispatchStore {
  readonly shared = true;
  readonly waitOrder: WaitOrder;
  private readonly link: RedisLink;
  private readonly now: () => number;
  private reachable = false;
  /** The epoch this replica knows the store by; undefined until it first answered. */
  private epoch: string | undefined;
  /** The store's state holds every session of the grid (rebuilt since the epoch changed). */
  private trusted = false;
  private rebuildRound = 0;
  private health: ReturnType<typeof setInterval> | undefined;
  private readonly claimer: Claimer;

  constructor(private readonly opts: RedisStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.link = new RedisLink(opts, opts.commandTimeoutMs);
    this.claimer = { ...opts, link: this.link, now: this.now };
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
    // Ref'd timers: the replica has nothing else holding the process open before its server starts.
    const backoff = new Backoff({ delayMs: 100, maxDelayMs: 500, scheduler: systemScheduler });
    while (!(await this.probe()) && this.now() < deadline) await backoff.wait();
    if (!this.reachable)
      this.opts.log?.warn(
        "state store unreachable at start: this balancer keeps to its own memory until it is up",
      );
    // Every second, whatever the traffic: the gauge, the fallback and the epoch follow the store.
    this.health = setInterval(() => void this.probe(), 1000);
    this.health.unref?.();
  }

  get up(): boolean {
    return this.reachable;
  }

  get rebuilding(): boolean {
    return this.reachable && !this.trusted;
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
        const claim = await this.claimShared(req, deadlineMs, this.epoch);
        if (claim) return claim;
        await this.probe(); // the epoch changed: learn the new one, then claim under it
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) throw err;
        this.markDown(err);
      }
    }
    if (this.reachable && this.epoch !== undefined) throw rebuilding(this.opts.leaseMs);
    return this.opts.fallback.claim(req);
  }

  async vehicleHome(vehicleId: string): Promise<string | undefined> {
    const raw = this.reachable
      ? await this.link.send("GET", [storeKeys.vehicle(vehicleId)]).catch((err) => this.markDown(err))
      : undefined;
    return this.parse(raw) ?? this.opts.fallback.vehicleHome(vehicleId);
  }

  async forgetVehicle(vehicleId: string): Promise<void> {
    await this.opts.fallback.forgetVehicle(vehicleId);
    if (this.reachable)
      await this.link.send("DEL", [storeKeys.vehicle(vehicleId)]).catch((err) => this.markDown(err));
  }

  /** Claims key then vehicle; null if the store's epoch is not `epoch`. */
  private async claimShared(req: DispatchRequest, deadlineMs: number, epoch: string): Promise<Claim | null> {
    const token = crypto.randomUUID();
    const keyName =
      req.idempotencyKey === undefined ? undefined : storeKeys.key(req.owner, req.idempotencyKey);
    const vehicleName = storeKeys.vehicle(req.vehicleId);
    const release = (name: string) => this.link.run(FINISH, [name], [token, "", "0"]).catch(() => {});
    let home: string | undefined;
    let keyHeld = false;
    let vehicleHeld = false;
    if (keyName !== undefined) {
      const k = await claimKey(this.claimer, keyName, token, epoch, deadlineMs);
      if (k.state === "epoch") return null;
      keyHeld = k.state === "claimed";
      home = k.at || undefined;
    }
    if (home === undefined) {
      const v = await claimOnce(this.claimer, vehicleName, token, epoch);
      if (v.state !== "claimed" && v.state !== "done") {
        if (keyHeld) await release(keyName as string);
        if (v.state === "epoch") return null;
        throw new GridError(
          "CONFLICT",
          reasons.VEHICLE_ALREADY_CHARGING,
          `vehicle ${req.vehicleId} is being started through another balancer; a retry with the key that started it gets it back`,
        );
      }
      vehicleHeld = v.state === "claimed";
      home = v.at || undefined;
    }
    // What this replica itself knows still holds (a session it started while the store was down, say);
    // not rebuilt yet, an absent claim proves nothing.
    home ??= this.opts.fallback.homeOf(req);
    // Not rebuilt yet: the substations say where the vehicle charges, and it goes there or nowhere.
    if (home === undefined && !this.trusted) home = (await this.opts.locate(req.vehicleId)) ?? undefined;
    if (home === undefined && !this.trusted) {
      await Promise.all([
        keyHeld ? release(keyName as string) : null,
        vehicleHeld ? release(vehicleName) : null,
      ]);
      throw rebuilding(this.opts.leaseMs);
    }
    const both = (script: typeof TRYING, args: (name: string) => string[]) =>
      Promise.all([
        keyHeld ? this.link.run(script, [keyName as string], args(keyName as string)) : null,
        vehicleHeld ? this.link.run(script, [vehicleName], args(vehicleName)) : null,
      ]).catch((err) => this.markDown(err));
    return {
      home,
      trying: async (substationId) => {
        await both(TRYING, () => [token, substationId]);
      },
      finish: async (outcome) => {
        const nowMs = this.now();
        let at = "";
        let vehicleMs = this.opts.keyTtlMs;
        if (outcome.kind === "admitted") {
          this.opts.fallback.remember(req, outcome.session);
          at = outcome.session.substationId;
          const end = outcome.session.expectedEndAt;
          if (outcome.session.status === "active" && end) vehicleMs = Math.max(1, Date.parse(end) - nowMs);
        } else if (outcome.kind === "uncertain") at = outcome.at;
        await both(FINISH, (name) => [
          token,
          at,
          String(Math.round(name === vehicleName ? vehicleMs : this.opts.keyTtlMs)),
        ]);
      },
    };
  }

  /** A claim's substation if it is done; garbage is absent (and counted). */
  private parse(raw: unknown): string | undefined {
    if (raw === undefined || raw === null) return undefined;
    try {
      const c = JSON.parse(String(raw)) as { s?: unknown; at?: unknown };
      if (c.s === "p") return undefined;
      if (c.s === "d" && typeof c.at === "string") return c.at;
    } catch {}
    this.opts.onBadValue?.();
    return undefined;
  }

  /** Does the store answer, and is it the one this replica knew? (Learns its epoch, or a new one.) */
  private async probe(): Promise<boolean> {
    let answer: [string, number];
    try {
      const ttlMs = String(this.opts.keyTtlMs + this.opts.leaseMs);
      answer = (await this.link.run(EPOCH, [storeKeys.epoch], [crypto.randomUUID(), ttlMs])) as [
        string,
        number,
      ];
    } catch (err) {
      this.markDown(err);
      return false;
    }
    const [epoch, created] = answer;
    if (!this.reachable && this.epoch !== undefined)
      this.opts.log?.info("state store reachable again: claims are shared across replicas");
    this.reachable = true;
    if (epoch === this.epoch) return true;
    const known = this.epoch !== undefined;
    this.epoch = epoch;
    // A store this replica never knew, found with an epoch: it has been kept by the others all along.
    if (!known && !created) this.trusted = true;
    else this.forgot(known);
    return true;
  }

  /**
   * The store is new to this replica (it forgot, or was just set up): its absent claims prove nothing until
   * the homes are rebuilt from the substations, after a lease (dispatches claimed before it land or fail).
   */
  private forgot(wasKnown: boolean): void {
    if (wasKnown) {
      this.opts.onReset?.();
      this.opts.log?.warn(
        "state store forgot the dispatch state (epoch changed): rebuilding from the substations",
      );
    }
    this.trusted = false;
    const round = ++this.rebuildRound;
    const attempt = async (): Promise<void> => {
      if (round !== this.rebuildRound) return;
      const done = await this.rebuild();
      if (round !== this.rebuildRound) return; // it forgot again meanwhile: a newer round rebuilds
      if (done) {
        this.trusted = true;
        this.opts.log?.info("state store rebuilt from the substations: claims are trusted again");
      } else setTimeout(() => void attempt(), 1000).unref?.();
    };
    // A store it knew: dispatches claimed before it forgot may still land; a new one: nothing to wait for.
    setTimeout(() => void attempt(), wasKnown ? this.opts.leaseMs : 0).unref?.();
  }

  /** Writes every home the substations' sessions imply (never over a newer claim); false if incomplete. */
  private async rebuild(): Promise<boolean> {
    const sessions = await this.opts.sessions();
    if (sessions === null || !this.reachable) return false;
    const epoch = this.epoch;
    const homes = homesOf(sessions, this.opts.keyTtlMs, this.now());
    try {
      await Promise.all(
        homes.map((h) => this.link.send("SET", [h.name, h.value, "PX", String(Math.round(h.ttlMs)), "NX"])),
      );
    } catch (err) {
      this.markDown(err);
      return false;
    }
    // Rebuilt into the store it meant to: if it forgot again meanwhile, the next round does it again.
    return (await this.probe()) && this.epoch === epoch;
  }

  private markDown(err: unknown): void {
    if (this.reachable) {
      this.opts.log?.warn("state store unreachable: each balancer keeps to its own memory until it is back", {
        error: err instanceof Error ? err.message : String(err),
      });
    }
    this.reachable = false;
  }
}

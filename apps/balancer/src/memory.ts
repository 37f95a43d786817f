import { type DispatchRequest, reasons, type Session } from "@evgrid/contract";
import { GridError, MapFront } from "@evgrid/kit";
import { ExpiryWheel, expiresOf, indexOf, packHome, SiteTable } from "./memory-homes.ts";
import { vehicleHomeMs } from "./rebuild.ts";
import type { Claim, DispatchResult, DispatchStore } from "./types.ts";

/**
 * What this balancer remembers about its own dispatches, so retries and repeats go back to the substation
 * that knows them (which then answers with the same session, or refuses a second one for the vehicle):
 * - concurrent requests with the same idempotency key share one dispatch;
 * - an idempotency key (scoped to its owner: two callers' "order-1" are two keys) points at its substation
 *   for `keyTtlMs` (IDEMPOTENCY_TTL_H);
 * - a vehicle points at the substation of its active session until a grace past its expected end.
 * Bounded (oldest forgotten first), and what has expired is dropped as new homes come (a vehicle's lives about
 * a minute past its session, so at a steady rate it holds about a minute of vehicles, not the bound). Lives in
 * this process: see the README for what that does not cover.
 * The dispatch store of a lone replica, and the one a shared store falls back to while it is down.
 */
export class MemoryStore implements DispatchStore {
  readonly shared = false;
  readonly up = false;
  readonly rebuilding = false;
  readonly hashing = false;
  readonly evicting = false;
  readonly waitOrder = undefined;
  /** Dispatches running now, by key, with the vehicle each is for. */
  private readonly inflight = new Map<string, { vehicleId: string; result: Promise<DispatchResult> }>();
  /** Vehicles being dispatched here now: two at once could land at two substations (each admits one). */
  private readonly vehiclesInFlight = new Set<string>();
  /** Each home one number (memory-homes.ts): when it expires, and its substation's index in `sites`. */
  private readonly homes = new Map<string, number>();
  private readonly expiry = new ExpiryWheel();
  /** The oldest home, for making room (`homes.keys().next()` grows dear as homes come and go: kit's MapFront). */
  private readonly front: MapFront<string>;
  private readonly sites = new SiteTable();

  constructor(
    private readonly keyTtlMs = 24 * 3_600_000,
    private readonly maxEntries = 200_000,
    private readonly now: () => number = Date.now,
    /** Past a session's expected end, until its substation surely ended it (VEHICLE_HOME_GRACE_MS). */
    private readonly vehicleGraceMs = 60_000,
  ) {
    this.front = new MapFront(this.homes, maxEntries);
  }

  /**
   * Runs `dispatch` once per idempotency key at a time; later callers with the key await the same result,
   * unless they send it for another vehicle (refused, as the substation refuses such a retry: never handed
   * the other vehicle's session as theirs).
   */
  coalesce(req: DispatchRequest, dispatch: () => Promise<DispatchResult>): Promise<DispatchResult> {
    if (req.idempotencyKey === undefined) return dispatch();
    const key = keyOf(req);
    const running = this.inflight.get(key);
    if (running) {
      if (running.vehicleId !== req.vehicleId) return Promise.reject(keyReused(req.idempotencyKey));
      return running.result.then((r) => ({ ...r, replayed: true }));
    }
    const result = dispatch().finally(() => this.inflight.delete(key));
    this.inflight.set(key, { vehicleId: req.vehicleId, result });
    return result;
  }

  /**
   * A claim in this process: one per vehicle at a time (requests with one key are already coalesced; one
   * with another key, or none, is refused while the first is dispatched, as another replica's claim is);
   * it says where to go.
   */
  async claim(req: DispatchRequest): Promise<Claim> {
    const { vehicleId } = req;
    if (this.vehiclesInFlight.has(vehicleId))
      throw new GridError(
        "CONFLICT",
        reasons.VEHICLE_ALREADY_CHARGING,
        `vehicle ${vehicleId} is being started by another request; a retry with the key that started it gets it back`,
      );
    this.vehiclesInFlight.add(vehicleId);
    let finished = false;
    return {
      home: this.homeOf(req),
      trying: async () => {},
      finish: async (outcome) => {
        if (finished) return;
        finished = true;
        try {
          if (outcome.kind === "admitted") this.remember(req, outcome.session, outcome.replayed === false);
          if (outcome.kind === "uncertain") this.rememberUncertain(req, outcome);
        } finally {
          this.vehiclesInFlight.delete(vehicleId);
        }
      },
    };
  }

  /** Where this request (by key) or this vehicle (by its active session) already is, if known. */
  homeOf(req: DispatchRequest): string | undefined {
    const nowMs = this.now();
    for (const k of this.keysOf(req)) {
      const site = this.liveSite(k, nowMs);
      if (site !== undefined) return site;
    }
    return undefined;
  }

  /** A retry (same owner, same key) of a dispatch this balancer made: it replays, it asks for nothing new. */
  isRetry(req: DispatchRequest): boolean {
    if (req.idempotencyKey === undefined) return false;
    const key = keyOf(req);
    return this.inflight.has(key) || this.liveSite(key, this.now()) !== undefined;
  }

  /** `fresh`: this dispatch started the session (rebuild.ts vehicleHomeMs). */
  remember(req: DispatchRequest, session: Session, fresh = false): void {
    const nowMs = this.now();
    if (req.idempotencyKey !== undefined) this.set(keyOf(req), session.substationId, nowMs + this.keyTtlMs);
    if (session.status === "active") {
      // As long as the shared store keeps it (rebuild.ts): a grace past the session's expected end.
      const ttl = { keyTtlMs: this.keyTtlMs, vehicleGraceMs: this.vehicleGraceMs };
      this.set(
        `vehicle:${req.vehicleId}`,
        session.substationId,
        nowMs + vehicleHomeMs(session, nowMs, ttl, fresh),
      );
    }
  }

  /**
   * A substation that may hold this request's session (it never answered), or where the vehicle charges:
   * the key and the vehicle point there, so a retry goes there and nowhere else (as the shared store's
   * FINISH does). A vehicle's home already there is kept as it is when nothing new can be there.
   */
  private rememberUncertain(
    req: DispatchRequest,
    outcome: { at: string; charging?: boolean; asked?: boolean },
  ) {
    const nowMs = this.now();
    if (req.idempotencyKey !== undefined) this.set(keyOf(req), outcome.at, nowMs + this.keyTtlMs);
    const keep = outcome.charging === true || outcome.asked === false;
    if (keep && this.liveSite(`vehicle:${req.vehicleId}`, nowMs) === outcome.at) return;
    this.set(`vehicle:${req.vehicleId}`, outcome.at, nowMs + this.keyTtlMs);
  }

  /** The substation of this vehicle's active session, as this balancer last knew it. */
  async vehicleHome(vehicleId: string): Promise<string | undefined> {
    return this.liveSite(`vehicle:${vehicleId}`, this.now());
  }

  async forgetVehicle(vehicleId: string): Promise<void> {
    this.drop(`vehicle:${vehicleId}`);
  }

  private keysOf(req: DispatchRequest): string[] {
    return req.idempotencyKey !== undefined
      ? [keyOf(req), `vehicle:${req.vehicleId}`]
      : [`vehicle:${req.vehicleId}`];
  }

  /** Homes held now (expired ones are dropped as new ones come). */
  get size(): number {
    return this.homes.size;
  }

  private set(k: string, substationId: string, expiresAtMs: number): void {
    this.dropExpired();
    this.drop(k);
    // More than SITES substations holding homes at once: the oldest homes make room (as at the bound).
    let index = this.sites.take(substationId);
    while (index === undefined) {
      const oldest = this.oldest();
      if (oldest === undefined) break;
      this.drop(oldest);
      index = this.sites.take(substationId);
    }
    // A whole ms, so the packing stays exact (a TTL of a fraction of an hour is a fraction of a ms); rounded
    // down, so a home lapses up to a ms early, never late.
    const atMs = Math.floor(expiresAtMs);
    this.homes.set(k, packHome(atMs, index as number));
    this.expiry.add(k, atMs);
    if (this.homes.size > this.maxEntries) {
      // What has expired goes before a live home does: the wheel drops only seconds that have passed.
      const nowMs = this.now();
      this.expiry.takeExpiredUnderWay(
        nowMs,
        (name) => {
          const home = this.homes.get(name);
          return home === undefined ? undefined : expiresOf(home);
        },
        (name) => this.dropIfExpired(name, nowMs),
      );
    }
    const oldest = this.front.over();
    if (oldest !== undefined) this.drop(oldest);
    // Names of homes replaced or deleted since: rebuilt when they outnumber the live ones.
    if (this.expiry.size > 2 * this.homes.size + 64) {
      this.expiry.clear();
      for (const [name, home] of this.homes) this.expiry.add(name, expiresOf(home));
    }
  }

  /** O(1) per home dropped (plus O(log s) per second of expiries): the wheel's next second is due first. */
  private dropExpired(): void {
    const nowMs = this.now();
    this.expiry.takeDue(nowMs, (name) => this.dropIfExpired(name, nowMs));
  }

  /** Renewed since, a home's later expiry is in a later second: only an expired one goes. */
  private dropIfExpired(name: string, nowMs: number): void {
    const home = this.homes.get(name);
    if (home !== undefined && expiresOf(home) <= nowMs) this.drop(name);
  }

  private drop(name: string): void {
    const home = this.homes.get(name);
    if (home === undefined) return;
    this.homes.delete(name);
    this.sites.release(indexOf(home));
  }

  private oldest(): string | undefined {
    return this.front.first();
  }

  /** The substation of this home while it lasts; an expired one is dropped here (it is of no use). */
  private liveSite(name: string, nowMs: number): string | undefined {
    const home = this.homes.get(name);
    if (home === undefined) return undefined;
    if (expiresOf(home) > nowMs) return this.sites.idAt(indexOf(home));
    this.drop(name);
    return undefined;
  }
}

const keyReused = (key: string) =>
  new GridError(
    "CONFLICT",
    reasons.IDEMPOTENCY_KEY_REUSED,
    `idempotencyKey ${key} is being used to start a session for another vehicle`,
    { field: "idempotencyKey" },
  );

const keyOf = (req: DispatchRequest) => `key:${req.owner}\u0000${req.idempotencyKey}`;

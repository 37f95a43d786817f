import { type DispatchRequest, reasons, type Session } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { Heap } from "heap-js";
import { vehicleHomeMs } from "./rebuild.ts";
import type { Claim, DispatchResult, DispatchStore } from "./types.ts";

/**
 * A home is one number in the map, no object: its expiry (ms) and its substation's index in `sites`, packed as
 * `expiresAtMs * SITES + index` (exact while expiresAtMs < 2^53 / SITES, i.e. until the year 2109). At 200
 * vehicles a second a balancer holds ~24,000 homes: a record and an expiry entry each cost ~90 bytes more.
 */
const SITES = 2048;
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
  readonly waitOrder = undefined;
  private readonly inflight = new Map<string, Promise<DispatchResult>>();
  /** Vehicles being dispatched here now: two at once could land at two substations (each admits one). */
  private readonly vehiclesInFlight = new Set<string>();
  private readonly homes = new Map<string, number>();
  private readonly expiry = new ExpiryWheel();
  /** Substation ids by index (the few of the grid; re-packed if ever full). */
  private sites: string[] = [];
  private siteIndex = new Map<string, number>();

  constructor(
    private readonly keyTtlMs = 24 * 3_600_000,
    private readonly maxEntries = 200_000,
    private readonly now: () => number = Date.now,
    /** Past a session's expected end, until its substation surely ended it (VEHICLE_HOME_GRACE_MS). */
    private readonly vehicleGraceMs = 60_000,
  ) {}

  /** Runs `dispatch` once per idempotency key at a time; later callers with the key await the same result. */
  coalesce(req: DispatchRequest, dispatch: () => Promise<DispatchResult>): Promise<DispatchResult> {
    if (req.idempotencyKey === undefined) return dispatch();
    const key = keyOf(req);
    const running = this.inflight.get(key);
    if (running) return running.then((r) => ({ ...r, replayed: true }));
    const p = dispatch().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
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
        if (outcome.kind === "admitted") this.remember(req, outcome.session);
        if (outcome.kind === "uncertain") this.rememberUncertain(req, outcome);
        this.vehiclesInFlight.delete(vehicleId);
      },
    };
  }

  /** Where this request (by key) or this vehicle (by its active session) already is, if known. */
  homeOf(req: DispatchRequest): string | undefined {
    const nowMs = this.now();
    for (const k of this.keysOf(req)) {
      const home = this.homes.get(k);
      if (home !== undefined && expiresOf(home) > nowMs) return this.siteOf(home);
      if (home !== undefined) this.homes.delete(k);
    }
    return undefined;
  }

  /** A retry (same owner, same key) of a dispatch this balancer made: it replays, it asks for nothing new. */
  isRetry(req: DispatchRequest): boolean {
    if (req.idempotencyKey === undefined) return false;
    const key = keyOf(req);
    const home = this.homes.get(key);
    return this.inflight.has(key) || (home !== undefined && expiresOf(home) > this.now());
  }

  remember(req: DispatchRequest, session: Session): void {
    const nowMs = this.now();
    if (req.idempotencyKey !== undefined) this.set(keyOf(req), session.substationId, nowMs + this.keyTtlMs);
    if (session.status === "active") {
      // As long as the shared store keeps it (rebuild.ts): a grace past the session's expected end.
      const ttl = { keyTtlMs: this.keyTtlMs, vehicleGraceMs: this.vehicleGraceMs };
      this.set(`vehicle:${req.vehicleId}`, session.substationId, nowMs + vehicleHomeMs(session, nowMs, ttl));
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
    const home = this.homes.get(`vehicle:${req.vehicleId}`);
    const keep = outcome.charging === true || outcome.asked === false;
    if (keep && home !== undefined && this.siteOf(home) === outcome.at && expiresOf(home) > nowMs) return;
    this.set(`vehicle:${req.vehicleId}`, outcome.at, nowMs + this.keyTtlMs);
  }

  /** The substation of this vehicle's active session, as this balancer last knew it. */
  async vehicleHome(vehicleId: string): Promise<string | undefined> {
    const home = this.homes.get(`vehicle:${vehicleId}`);
    return home !== undefined && expiresOf(home) > this.now() ? this.siteOf(home) : undefined;
  }

  async forgetVehicle(vehicleId: string): Promise<void> {
    this.homes.delete(`vehicle:${vehicleId}`);
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
    // A whole ms, so the packing stays exact (a TTL of a fraction of an hour is a fraction of a ms).
    const atMs = Math.ceil(expiresAtMs);
    this.homes.delete(k);
    this.homes.set(k, atMs * SITES + this.indexOf(substationId));
    this.expiry.add(k, atMs);
    if (this.homes.size > this.maxEntries) {
      const oldest = this.homes.keys().next().value;
      if (oldest !== undefined) this.homes.delete(oldest);
    }
    // Names of homes replaced or deleted since: rebuilt when they outnumber the live ones.
    if (this.expiry.size > 2 * this.homes.size + 64) {
      this.expiry.clear();
      for (const [name, home] of this.homes) this.expiry.add(name, expiresOf(home));
    }
  }

  /** O(1) per home dropped (plus O(log s) per second of expiries): the wheel's next second is due first. */
  private dropExpired(): void {
    const nowMs = this.now();
    this.expiry.takeDue(nowMs, (name) => {
      const home = this.homes.get(name);
      // Renewed since: its later expiry is in a later second.
      if (home !== undefined && expiresOf(home) <= nowMs) this.homes.delete(name);
    });
  }

  private siteOf(home: number): string {
    return this.sites[home % SITES] as string;
  }

  private indexOf(substationId: string): number {
    const known = this.siteIndex.get(substationId);
    if (known !== undefined) return known;
    if (this.sites.length === SITES) this.repackSites();
    const index = this.sites.length;
    this.sites.push(substationId);
    this.siteIndex.set(substationId, index);
    return index;
  }

  /** Every index taken (2,048 ids seen in this process's life): only the ids homes still use keep one. */
  private repackSites(): void {
    const old = this.sites;
    this.sites = [];
    this.siteIndex = new Map();
    for (const [name, home] of this.homes)
      this.homes.set(name, expiresOf(home) * SITES + this.indexOf(old[home % SITES] as string));
    if (this.sites.length === SITES) throw new Error("more than 2048 substations hold homes at once");
  }
}

const expiresOf = (home: number) => Math.floor(home / SITES);

/**
 * Names by the second they expire in: one array slot per home (the name is the map's own string), and a heap
 * of the seconds that have names. A name whose home was renewed or deleted stays until its second is taken.
 */
class ExpiryWheel {
  private readonly names = new Map<number, string[]>();
  private readonly seconds = new Heap<number>((a, b) => a - b);
  size = 0;

  add(name: string, expiresAtMs: number): void {
    const second = Math.ceil(expiresAtMs / 1000);
    const names = this.names.get(second);
    if (names) names.push(name);
    else {
      this.names.set(second, [name]);
      this.seconds.push(second);
    }
    this.size += 1;
  }

  /**
   * Calls `due` with every name of the seconds that have passed by `nowMs` (each checks its home: renewed
   * ones are not due). A home is dropped at most a second after it expired; until then lookups ignore it.
   */
  takeDue(nowMs: number, due: (name: string) => void): void {
    for (let s = this.seconds.peek(); s !== undefined && s * 1000 <= nowMs; s = this.seconds.peek()) {
      this.seconds.pop();
      const names = this.names.get(s) ?? [];
      this.names.delete(s);
      this.size -= names.length;
      for (const name of names) due(name);
    }
  }

  clear(): void {
    this.names.clear();
    this.seconds.clear();
    this.size = 0;
  }
}

const keyOf = (req: DispatchRequest) => `key:${req.owner}\u0000${req.idempotencyKey}`;

import { type DispatchRequest, reasons } from "@evgrid/contract";
import { GridError, type Logger } from "@evgrid/kit";
import { RedisClient } from "bun";
import type { OrderedWaiter, WaitOrder } from "./wait-queue.ts";

/**
 * What several balancer replicas must agree on, kept in Valkey/Redis (`REDIS_URL`): for each idempotency key
 * and each vehicle, who is dispatching it right now and where it went. Everything has a TTL, so nothing leaks.
 *
 * A key or a vehicle is *claimed* by the replica that dispatches it, with a lease; before each try the claim
 * records the substation it is about to ask, and when the dispatch is over the claim says where the session
 * is (or is released when surely nothing happened). So:
 * - a request with the same key on another replica waits for the claim, then goes where it went: that
 *   substation answers with the same session. One key, one session, across replicas;
 * - a request for a vehicle being dispatched elsewhere right now is refused 409 VEHICLE_ALREADY_CHARGING;
 *   once the vehicle has a session, its requests go to that substation, which refuses a second one;
 * - a replica that dies mid-dispatch leaves a claim whose lease runs out: the next request takes it over
 *   and goes first to the substation last tried (it may have started the session), never elsewhere.
 *
 * When the store cannot be reached, claims are skipped (`claim` returns null) and each replica keeps to its
 * own memory, as with one replica: what is then no longer guaranteed across replicas is in the README.
 * `up` says which; it recovers by itself.
 */
export interface Claim {
  /** Where the key or vehicle already is (a replay, a session, or a substation a dead replica tried). */
  home: string | undefined;
  /** Called before each startSession: if this replica dies now, a successor goes there first. */
  trying(substationId: string): Promise<void>;
  /**
   * The dispatch is over: the session's substation (and when its vehicle's session is expected to end), or
   * the substation whose answer never came (uncertain: it may hold a session), or null when surely nothing
   * was started (refused everywhere).
   */
  finish(outcome: { at: string; vehicleUntilMs?: number | undefined } | null): Promise<void>;
}

export interface SharedStateOptions {
  url: string;
  /** How long an idempotency key is honoured. */
  keyTtlMs: number;
  /** How long a claim holds without being finished (a dispatch's deadline, and some). */
  leaseMs: number;
  log?: Logger;
  /** Told whenever the store goes down or comes back (a gauge). */
  onUp?: (up: boolean) => void;
  now?: () => number;
}

/** Claims a key: new, done (where), taken over (from a dead replica: where it last tried) or busy. */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[2])
if not v then
  redis.call('SET', KEYS[1], cjson.encode({s='p', t=ARGV[1], u=now + tonumber(ARGV[3])}), 'PX', ARGV[4])
  return 'claimed:'
end
local c = cjson.decode(v)
if c.s == 'd' then return 'done:' .. c.at end
if c.u < now then
  c.t = ARGV[1]
  c.u = now + tonumber(ARGV[3])
  redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
  return 'claimed:' .. (c.at or '')
end
return 'busy:' .. (c.at or '')
`;

/** Records the substation about to be asked, if the claim is still ours. */
const TRYING = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local c = cjson.decode(v)
if c.t ~= ARGV[1] then return 0 end
c.at = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(c), 'KEEPTTL')
return 1
`;

/** Ends a claim of ours: where the session is (for ARGV[3] ms), or released (no ARGV[2]). */
const FINISH = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local c = cjson.decode(v)
if c.t ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], cjson.encode({s='d', at=ARGV[2]}), 'PX', ARGV[3])
end
return 1
`;

const POLL_MS = 20;
/** How long a starting balancer waits for the store before it starts without it (and keeps trying). */
const START_WAIT_MS = 2000;

export class SharedState {
  private readonly redis: RedisClient;
  private readonly now: () => number;
  private isUp = true;
  /** A PING every second, whatever the traffic: the gauge and the fallback follow the store, idle or not. */
  private health: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: SharedStateOptions) {
    this.now = opts.now ?? Date.now;
    // Commands fail at once while disconnected (no offline queue): a dispatch never waits on a dead store.
    this.redis = new RedisClient(opts.url, {
      enableOfflineQueue: false,
      connectionTimeout: 2000,
      autoReconnect: true,
      maxRetries: 4_294_967_295,
    });
  }

  /** Connects (or notes the store is down and keeps trying): a replica starts either way. */
  async start(): Promise<void> {
    // The client keeps connecting in the background (autoReconnect): a store that is down delays nothing.
    void this.redis.connect().catch(() => {});
    const deadline = this.now() + START_WAIT_MS;
    let answered = await this.ping();
    while (!answered && this.now() < deadline) {
      await Bun.sleep(100);
      answered = await this.ping();
    }
    if (answered) this.markUp(true);
    else this.markDown(new Error(`no answer within ${START_WAIT_MS} ms`));
    this.health = setInterval(() => void this.probe(), 1000);
    this.health.unref?.();
  }

  get up(): boolean {
    return this.isUp;
  }

  close(): void {
    clearInterval(this.health);
    this.redis.close();
  }

  /**
   * Claims the request's key (waiting while another replica dispatches it, until `deadlineMs`) and its vehicle
   * (refusing 409 if another replica is starting it now). Null when the store is down: no claim, local rules.
   */
  async claim(req: DispatchRequest, deadlineMs: number): Promise<Claim | null> {
    if (!this.isUp) return null;
    const token = crypto.randomUUID();
    try {
      const keyName =
        req.idempotencyKey === undefined ? undefined : `evgrid:key:${req.owner}\u0000${req.idempotencyKey}`;
      let home: string | undefined;
      let keyHeld = false;
      if (keyName !== undefined) {
        for (;;) {
          const [state, at] = await this.run(CLAIM, keyName, token, this.opts.keyTtlMs);
          if (state === "claimed") {
            keyHeld = true;
            home = at || undefined;
            break;
          }
          if (state === "done") {
            home = at;
            break;
          }
          if (this.now() + POLL_MS > deadlineMs) {
            throw new GridError(
              "SERVICE_UNAVAILABLE",
              reasons.DEADLINE_EXCEEDED,
              "a request with this idempotency key is still being dispatched; retry with the same key",
              // That dispatch may still start the key's session: not a certain "none".
              { uncertain: true },
            );
          }
          await Bun.sleep(POLL_MS);
        }
      }
      const vehicleName = `evgrid:vehicle:${req.vehicleId}`;
      let vehicleHeld = false;
      if (home === undefined) {
        const [state, at] = await this.run(CLAIM, vehicleName, token, this.opts.keyTtlMs);
        if (state === "busy") {
          if (keyHeld) await this.run(FINISH, keyName as string, token, 0, "");
          throw new GridError(
            "CONFLICT",
            reasons.VEHICLE_ALREADY_CHARGING,
            `vehicle ${req.vehicleId} is being started through another balancer; a retry with the key that started it gets it back`,
          );
        }
        vehicleHeld = state === "claimed";
        home = at || undefined;
      }
      return {
        home,
        trying: async (substationId) => {
          await Promise.all([
            keyHeld ? this.run(TRYING, keyName as string, token, 0, substationId) : null,
            vehicleHeld ? this.run(TRYING, vehicleName, token, 0, substationId) : null,
          ]).catch((err) => this.markDown(err));
        },
        finish: async (outcome) => {
          const at = outcome?.at ?? "";
          const nowMs = this.now();
          const vehicleMs = outcome?.vehicleUntilMs ?? nowMs + this.opts.keyTtlMs;
          await Promise.all([
            keyHeld ? this.run(FINISH, keyName as string, token, this.opts.keyTtlMs, at) : null,
            vehicleHeld
              ? this.run(FINISH, vehicleName, token, Math.max(1, Math.round(vehicleMs - nowMs)), at)
              : null,
          ]).catch((err) => this.markDown(err));
        },
      };
    } catch (err) {
      if (err instanceof GridError) throw err;
      this.markDown(err);
      return null;
    }
  }

  /** Where this vehicle's session is, as the replicas last recorded it; undefined if none or unknown. */
  async vehicleHome(vehicleId: string): Promise<string | undefined> {
    if (!this.isUp) return undefined;
    try {
      const v = await this.redis.get(`evgrid:vehicle:${vehicleId}`);
      if (!v) return undefined;
      const c = JSON.parse(v) as { s: string; at?: string };
      return c.s === "d" ? c.at : undefined;
    } catch (err) {
      this.markDown(err);
      return undefined;
    }
  }

  /** The vehicle's session is over (stopped through a balancer): its next request may go anywhere. */
  async forgetVehicle(vehicleId: string): Promise<void> {
    if (!this.isUp) return;
    await this.redis.del(`evgrid:vehicle:${vehicleId}`).catch((err) => this.markDown(err));
  }

  /**
   * The wait queue's first-come-first-served order across replicas: a ticket per waiter from one counter, in
   * one sorted set (score = ticket) whose members carry what a replica needs to tell whether an earlier
   * waiter elsewhere fits (its kW, its pinned substation) and until when it waits. Expired members are
   * dropped as they are read; the whole set expires after the longest wait.
   */
  waitOrder(replica: string, maxWaitMs: number): WaitOrder {
    const QUEUE = "evgrid:wait";
    return {
      replica,
      enter: async (req, untilMs) => {
        if (!this.isUp) return null;
        try {
          const ticket = Number(await this.redis.send("INCR", [`${QUEUE}:seq`]));
          const member: OrderedWaiter & { untilMs: number } = {
            ticket,
            replica,
            priority: req.priority,
            minKw: req.minKw,
            maxKw: req.maxKw,
            substationId: req.substationId,
            untilMs,
          };
          await this.redis.send("ZADD", [QUEUE, String(ticket), JSON.stringify(member)]);
          await this.redis.send("PEXPIRE", [QUEUE, String(maxWaitMs + 60_000)]);
          return ticket;
        } catch (err) {
          this.markDown(err);
          return null;
        }
      },
      leave: (ticket) => {
        if (!this.isUp) return;
        void this.redis
          .send("ZREMRANGEBYSCORE", [QUEUE, String(ticket), String(ticket)])
          .catch((err) => this.markDown(err));
      },
      snapshot: async () => {
        if (!this.isUp) return null;
        try {
          const raw = (await this.redis.send("ZRANGE", [QUEUE, "0", "-1"])) as string[];
          const nowMs = this.now();
          const live: OrderedWaiter[] = [];
          for (const m of raw) {
            const w = JSON.parse(m) as OrderedWaiter & { untilMs: number };
            if (w.untilMs > nowMs) live.push(w);
            else void this.redis.send("ZREM", [QUEUE, m]).catch(() => {});
          }
          return live;
        } catch (err) {
          this.markDown(err);
          return null;
        }
      },
    };
  }

  /** Runs a script on one key; its answer split as `state:where`. */
  private async run(script: string, key: string, token: string, ms: number, at?: string): Promise<string[]> {
    const args =
      at === undefined
        ? [token, String(this.now()), String(this.opts.leaseMs), String(ms)]
        : [token, at, String(ms)];
    const answer = String(await this.redis.send("EVAL", [script, "1", key, ...args]));
    const i = answer.indexOf(":");
    return i < 0 ? [answer, ""] : [answer.slice(0, i), answer.slice(i + 1)];
  }

  private markDown(err: unknown): void {
    if (this.isUp) {
      this.opts.log?.warn("state store unreachable: each balancer keeps to its own memory until it is back", {
        error: err instanceof Error ? err.message : String(err),
      });
      this.opts.onUp?.(false);
    }
    this.isUp = false;
  }

  private markUp(first: boolean): void {
    if (!this.isUp || first) {
      if (!first) this.opts.log?.info("state store reachable again: claims are shared across replicas");
      this.opts.onUp?.(true);
    }
    this.isUp = true;
  }

  /** Does the store answer now? (Fails at once while disconnected: no offline queue.) */
  private async ping(): Promise<boolean> {
    const answer = this.redis.send("PING", []).then(
      () => true,
      () => false,
    );
    return Promise.race([answer, Bun.sleep(1000).then(() => false)]);
  }

  private async probe(): Promise<void> {
    if (await this.ping()) this.markUp(false);
    else if (this.isUp) this.markDown(new Error("no answer to PING"));
  }
}

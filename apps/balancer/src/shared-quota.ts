import { OPERATOR, type Session } from "@evgrid/contract";
import type { Logger } from "@evgrid/kit";
import type { QuotaDecision, SessionQuota } from "@evgrid/policy";
import type { RedisLink } from "./redis-link.ts";
import { QUOTA } from "./shared-quota-script.ts";
import type { GridView } from "./view.ts";

/** A place counted in the store for one request: it becomes a held session, or it is given back. */
export interface SharedReservation {
  /** The request was admitted: its reservation becomes the session, held until it ends. */
  admitted(session: Session): void;
  /** The request ended without a session (refused, failed): its place is free again. No-op once admitted. */
  release(): void;
}

export type SharedQuotaAnswer =
  | { ok: true; reservation: SharedReservation }
  | { ok: false; decision: Exclude<QuotaDecision, { ok: true }>; retryAfterS: number };

export interface SharedQuotaOptions {
  /**
   * Its own connection to the store (a quota check never queues behind claims, and fails alone), with the
   * store's per-command timeout (REDIS_COMMAND_TIMEOUT_MS): past it the store is skipped for `pauseMs`.
   */
  link: RedisLink;
  /** How long a reservation counts without being admitted or released: a replica that died mid-dispatch. */
  reservationTtlMs: number;
  pauseMs?: number;
  /** The dispatch store's view of the store (`DispatchStore.up`): while it says down, the store is not asked. */
  storeUp?: () => boolean;
  log?: Logger;
  now?: () => number;
}

/** An active session, as the quota counts it. */
export interface HeldSession {
  owner: string;
  sessionId: string;
  minKw: number;
  latestEndMs: number;
  /** Its caller's idempotency key, when known: a retry with it is then not counted again. */
  idempotencyKey?: string | null;
}

/** What the quota asks of the grid (the dispatcher answers). */
export interface QuotaGrid {
  /** Every active session the substations that answer hold (one that does not: its sessions are missed). */
  activeSessions(): Promise<HeldSession[]>;
  /** What this replica knows its callers hold. */
  held(): HeldSession[];
  /** Which of these sessions have surely ended (their substations say so). */
  ended(sessionIds: string[]): Promise<string[]>;
}

const MS_PER_HOUR = 3_600_000;
/**
 * The quotas' own epoch, apart from the claims' (`evgrid:epoch`, rebuild.ts): each set of keys is rebuilt
 * by its own owner from the substations' sessions, and neither rebuild writes the other's keys.
 */
export const QUOTA_EPOCH_KEY = "evgrid:quota-epoch";
/** Sessions of one caller asked about when it is over its quota (as the per-replica ledger does). */
const RECONCILE_LIMIT = 20;
/** The script's verdicts that let the request go on. */
const PASSED = new Set(["ok", "replay", "joined"]);

/**
 * What each caller holds across every balancer replica, in Valkey/Redis: its active sessions and their
 * minimums, and the requests being dispatched for it right now. One Lua script (loaded once, called by
 * EVALSHA) checks and reserves in one atomic step, so requests racing on several replicas cannot all pass.
 * Every entry expires by itself (a reservation after `reservationTtlMs`, a session when it must have ended),
 * so a dead replica leaks nothing for long.
 *
 * This is a second check on top of the replica's own ledger, never instead of it: while the store does not
 * answer (down, paused, over its timeout) `reserve` says null and the caller is held to per-replica quotas
 * only, as with one replica. A store that holds no quotas (new, flushed, restarted empty, failed over to an
 * empty replica) is noticed by its epoch (see the script) and rebuilt from the substations' active sessions
 * before any replica counts there again.
 */
export class SharedQuota {
  /** The store's quota epoch this replica has written what it knows into ('' none yet: see the script). */
  private epoch = "";
  private rebuilding: Promise<void> = Promise.resolve();
  private rebuildingFor: string | null = null;
  private pausedUntilMs = 0;
  private readonly now: () => number;

  constructor(private readonly opts: SharedQuotaOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Counts one request of `minKw` for `owner` if it fits its quota across replicas. Null: the store did not
   * answer (or could not be rebuilt); the replica's own quota is all there is.
   */
  async reserve(
    owner: string,
    idempotencyKey: string | undefined,
    minKw: number,
    quota: SessionQuota,
    gridCapacityKw: number,
    grid: QuotaGrid,
  ): Promise<SharedQuotaAnswer | null> {
    // A key's request has one reservation whichever replica it reaches (a retry joins it).
    const member = idempotencyKey === undefined ? `r:${crypto.randomUUID()}` : `r:k:${idempotencyKey}`;
    const limitKw = quota.maxGridShare < 1 && gridCapacityKw > 0 ? quota.maxGridShare * gridCapacityKw : null;
    const attempt = async (): Promise<unknown[] | null> => {
      for (let round = 0; round < 2; round++) {
        await this.rebuilding;
        const known = this.epoch;
        const answer = await this.call(owner, [
          "reserve",
          member,
          String(minKw),
          String(this.opts.reservationTtlMs),
          String(quota.maxActiveSessions),
          limitKw === null ? "" : String(limitKw),
          known,
          crypto.randomUUID(),
          idempotencyKey ?? "",
        ]);
        if (answer === null) return null;
        if (answer[0] !== "reset") {
          this.epoch = String(answer[3]);
          return answer;
        }
        // The store holds no quotas, or forgot them: written back from the substations before counting.
        const epoch = String(answer[3]);
        if (this.rebuildingFor !== epoch) {
          this.rebuildingFor = epoch;
          this.rebuilding = this.rebuild(grid, epoch).finally(() => {
            if (this.rebuildingFor === epoch) this.rebuildingFor = null;
          });
        }
      }
      return null;
    };
    let answer = await attempt();
    if (answer === null) return null;
    if (!PASSED.has(String(answer[0]))) {
      const sessions = await this.call(owner, ["list", String(RECONCILE_LIMIT)]);
      const gone = sessions === null ? [] : await grid.ended(sessions.map((m) => String(m).slice(2)));
      if (gone.length > 0) {
        for (const id of gone) await this.call(owner, ["drop", `s:${id}`]);
        answer = await attempt();
        if (answer === null) return null;
      }
    }
    if (!PASSED.has(String(answer[0]))) return { ok: false, ...this.refusal(answer, quota, limitKw) };
    // Only the request that made the reservation gives it back; a retry that joined it leaves it be.
    const own = answer[0] === "ok";
    return { ok: true, reservation: this.reservation(owner, member, minKw, idempotencyKey ?? "", own) };
  }

  /**
   * Writes every active session the substations hold (and this replica's own) into the store, caller by
   * caller, then takes `epoch` as the store's. Until then this replica counts nothing there. If the
   * substations cannot all be read, the epoch is not taken: the next reservation tries again.
   */
  private async rebuild(grid: QuotaGrid, epoch: string): Promise<void> {
    try {
      const sessions = await grid.activeSessions();
      const byOwner = new Map<string, string[]>();
      for (const s of [...sessions, ...grid.held()]) {
        const args = byOwner.get(s.owner) ?? [];
        args.push(`s:${s.sessionId}`, String(s.minKw), String(s.latestEndMs), s.idempotencyKey ?? "");
        byOwner.set(s.owner, args);
      }
      for (const [owner, args] of byOwner) if ((await this.call(owner, ["seed", ...args])) === null) return;
      this.opts.log?.info("quota store rebuilt from the substations", { callers: byOwner.size });
      this.epoch = epoch;
    } catch {
      // Nothing taken: the next reservation rebuilds again.
    }
  }

  /** The session ended (stopped through any replica, or found ended): its place is free on every replica. */
  ended(owner: string, sessionId: string): void {
    void this.call(owner, ["drop", `s:${sessionId}`]);
  }

  private reservation(
    owner: string,
    member: string,
    minKw: number,
    key: string,
    own: boolean,
  ): SharedReservation {
    let settled = false;
    return {
      admitted: (session) => {
        if (settled) return;
        settled = true;
        const until = String(latestEndMs(session));
        void this.call(owner, ["admit", member, `s:${session.sessionId}`, String(minKw), until, key]);
      },
      release: () => {
        if (settled) return;
        settled = true;
        if (own) void this.call(owner, ["drop", member]);
      },
    };
  }

  private refusal(
    answer: unknown[],
    quota: SessionQuota,
    limitKw: number | null,
  ): { decision: Exclude<QuotaDecision, { ok: true }>; retryAfterS: number } {
    const firstEndMs = Number(answer[4]);
    const retryAfterS = Math.min(3600, Math.max(1, Math.ceil((firstEndMs - this.now()) / 1000) || 1));
    const decision: Exclude<QuotaDecision, { ok: true }> =
      answer[0] === "grid_share"
        ? { ok: false, quota: "grid_share", limit: quota.maxGridShare, limitKw: limitKw ?? 0 }
        : { ok: false, quota: "active_sessions", limit: quota.maxActiveSessions };
    return { decision, retryAfterS };
  }

  /**
   * One call of the script on a caller's keys (by EVALSHA, through the link), or null if the store did not
   * answer within the command timeout. (Three keys in one script: one Valkey, not a cluster.)
   */
  private async call(owner: string, args: string[]): Promise<unknown[] | null> {
    if (this.now() < this.pausedUntilMs || this.opts.storeUp?.() === false) return null;
    const keys = [`evgrid:quota:${owner}:at`, `evgrid:quota:${owner}:kw`, QUOTA_EPOCH_KEY];
    try {
      return (await this.opts.link.run(QUOTA, keys, args)) as unknown[];
    } catch (err) {
      if (this.pausedUntilMs === 0 || this.now() >= this.pausedUntilMs)
        this.opts.log?.warn("quota store did not answer: quotas are per replica for now", {
          error: err instanceof Error ? err.message : String(err),
        });
      this.pausedUntilMs = this.now() + (this.opts.pauseMs ?? 1000);
      return null;
    }
  }
}

/** When a session ends at the latest (its time is up, or its energy delivered at its minimum). */
export function latestEndMs(session: Session): number {
  const startedMs = Date.parse(session.startedAt);
  return session.durationS !== null
    ? startedMs + session.durationS * 1000
    : startedMs + ((session.energyKwh ?? 0) / session.minKw) * MS_PER_HOUR;
}

/** Every active session (the operator's aside) of every substation that answers: their lists are the truth. */
export async function activeSessionsOf(view: GridView): Promise<HeldSession[]> {
  const lists = await Promise.all(
    view.members
      .filter((m) => m.healthy)
      .map((m) =>
        m.client.listSessions
          .query({ status: "active", limit: 10_000 })
          .then((r) => r.sessions)
          .catch(() => []),
      ),
  );
  return lists
    .flat()
    .filter((s) => s.owner !== OPERATOR)
    .map((s) => ({
      owner: s.owner,
      sessionId: s.sessionId,
      minKw: s.minKw,
      latestEndMs: latestEndMs(s),
      idempotencyKey: s.idempotencyKey,
    }));
}

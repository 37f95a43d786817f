import type { Session } from "@evgrid/contract";
import type { Logger } from "@evgrid/kit";
import type { QuotaDecision, SessionQuota } from "@evgrid/policy";
import type { RedisClient } from "bun";
import { QUOTA_SCRIPT } from "./shared-quota-script.ts";

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
  redis: RedisClient;
  /** How long a reservation counts without being admitted or released: a replica that died mid-dispatch. */
  reservationTtlMs: number;
  /** One store command at most; past it the store is skipped (per-replica quotas) for `pauseMs`. */
  commandTimeoutMs: number;
  pauseMs?: number;
  log?: Logger;
  now?: () => number;
}

/** A session this replica holds for a caller, as the store records it (to re-seed a store that forgot). */
export interface HeldSession {
  sessionId: string;
  minKw: number;
  latestEndMs: number;
}

const MS_PER_HOUR = 3_600_000;
/** Sessions of one caller asked about when it is over its quota (as the per-replica ledger does). */
const RECONCILE_LIMIT = 20;

/**
 * What each caller holds across every balancer replica, in Valkey/Redis: its active sessions and their
 * minimums, and the requests being dispatched for it right now. One Lua script (loaded once, called by
 * EVALSHA) checks and reserves in one atomic step, so requests racing on several replicas cannot all pass.
 * Every entry expires by itself (a reservation after `reservationTtlMs`, a session when it must have ended),
 * so a dead replica leaks nothing for long.
 *
 * This is a second check on top of the replica's own ledger, never instead of it: while the store does not
 * answer (down, paused, over its timeout) `reserve` says null and the caller is held to per-replica quotas
 * only, as with one replica. A store that forgot (flushed, restarted empty) is re-seeded with this replica's
 * sessions the first time it is asked about a caller it no longer knows.
 */
export class SharedQuota {
  private sha: string;
  private pausedUntilMs = 0;
  private readonly now: () => number;

  constructor(private readonly opts: SharedQuotaOptions) {
    this.now = opts.now ?? Date.now;
    this.sha = new Bun.CryptoHasher("sha1").update(QUOTA_SCRIPT).digest("hex");
  }

  /**
   * Counts one request of `minKw` for `owner` if it fits its quota across replicas. `held` is what this
   * replica knows the caller holds (to re-seed a store that forgot); `ended` asks the substations which of
   * the given sessions are over (to free a caller held to sessions nobody told us have ended). Null: the
   * store did not answer; the replica's own quota is all there is.
   */
  async reserve(
    owner: string,
    minKw: number,
    quota: SessionQuota,
    gridCapacityKw: number,
    held: () => HeldSession[],
    ended: (sessionIds: string[]) => Promise<string[]>,
  ): Promise<SharedQuotaAnswer | null> {
    const member = `r:${crypto.randomUUID()}`;
    const limitKw = quota.maxGridShare < 1 && gridCapacityKw > 0 ? quota.maxGridShare * gridCapacityKw : null;
    const attempt = () =>
      this.call(owner, [
        "reserve",
        member,
        String(minKw),
        String(this.opts.reservationTtlMs),
        String(quota.maxActiveSessions),
        limitKw === null ? "" : String(limitKw),
      ]);
    let answer = await attempt();
    if (answer === null) return null;
    if (answer[3] === 0) {
      // The store has no record of this caller: new, or forgotten. What this replica holds goes back first.
      const mine = held();
      if (mine.length > 0) {
        const seed = mine.flatMap((h) => [`s:${h.sessionId}`, String(h.minKw), String(h.latestEndMs)]);
        if ((await this.call(owner, ["drop", member])) === null) return null;
        if ((await this.call(owner, ["seed", ...seed])) === null) return null;
        answer = await attempt();
        if (answer === null) return null;
      }
    }
    if (answer[0] !== "ok") {
      const sessions = await this.call(owner, ["list", String(RECONCILE_LIMIT)]);
      const gone = sessions === null ? [] : await ended(sessions.map((m) => String(m).slice(2)));
      if (gone.length > 0) {
        for (const id of gone) await this.call(owner, ["drop", `s:${id}`]);
        answer = await attempt();
        if (answer === null) return null;
      }
    }
    if (answer[0] !== "ok") return { ok: false, ...this.refusal(answer, quota, limitKw) };
    return { ok: true, reservation: this.reservation(owner, member, minKw) };
  }

  /** The session ended (stopped through any replica, or found ended): its place is free on every replica. */
  ended(owner: string, sessionId: string): void {
    void this.call(owner, ["drop", `s:${sessionId}`]);
  }

  private reservation(owner: string, member: string, minKw: number): SharedReservation {
    let settled = false;
    return {
      admitted: (session) => {
        if (settled) return;
        settled = true;
        const until = latestEndMs(session);
        void this.call(owner, ["admit", member, `s:${session.sessionId}`, String(minKw), String(until)]);
      },
      release: () => {
        if (settled) return;
        settled = true;
        void this.call(owner, ["drop", member]);
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
   * One call of the script on a caller's keys (EVALSHA; loaded again if the store lost it), or null if the
   * store did not answer within the command timeout. Its keys share a hash tag: one slot on a cluster.
   */
  private async call(owner: string, args: string[]): Promise<unknown[] | null> {
    if (this.now() < this.pausedUntilMs) return null;
    const keys = [`evgrid:quota:{${owner}}:at`, `evgrid:quota:{${owner}}:kw`];
    const run = async () => {
      try {
        return await this.opts.redis.send("EVALSHA", [this.sha, "2", ...keys, ...args]);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        this.sha = String(await this.opts.redis.send("SCRIPT", ["LOAD", QUOTA_SCRIPT]));
        return this.opts.redis.send("EVALSHA", [this.sha, "2", ...keys, ...args]);
      }
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer in time")), this.opts.commandTimeoutMs);
    });
    try {
      return (await Promise.race([run(), timeout])) as unknown[];
    } catch (err) {
      if (this.pausedUntilMs === 0 || this.now() >= this.pausedUntilMs)
        this.opts.log?.warn("quota store did not answer: quotas are per replica for now", {
          error: err instanceof Error ? err.message : String(err),
        });
      this.pausedUntilMs = this.now() + (this.opts.pauseMs ?? 1000);
      return null;
    } finally {
      clearTimeout(timer);
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

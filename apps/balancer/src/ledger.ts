import type { Session } from "@evgrid/contract";
import type { OwnerUsage } from "@evgrid/policy";

interface Held {
  sessionId: string;
  owner: string;
  minKw: number;
  /** When the substation expected it to end, at its allocation when admitted. */
  expectedEndMs: number;
  /** When it ends at the latest: its time is up, or its energy delivered at no more than its minimum. */
  latestEndMs: number;
}

const MS_PER_HOUR = 3_600_000;

/**
 * The sessions each caller holds across the grid, for its quotas. Filled from this balancer's admissions
 * and emptied by stops through it and by time: a session is counted until it must have ended, so a caller
 * is never under-counted. Sessions that ended early (stopped at the substation, curtailed, energy reached
 * sooner) are over-counted until the caller hits its quota and the dispatcher asks their substations.
 * Holds one entry per active session admitted here, so it is bounded by what the grid can power.
 */
export class OwnerLedger {
  private readonly byOwner = new Map<string, Map<string, Held>>();
  private readonly ownerOf = new Map<string, string>();
  /** Requests of each caller being dispatched right now: counted, so a burst cannot slip past the quota. */
  private readonly pending = new Map<string, { count: number; minKw: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  add(session: Session): void {
    const startedMs = Date.parse(session.startedAt);
    const latestEndMs =
      session.durationS !== null
        ? startedMs + session.durationS * 1000
        : startedMs + ((session.energyKwh ?? 0) / session.minKw) * MS_PER_HOUR;
    const expectedEndMs = session.expectedEndAt ? Date.parse(session.expectedEndAt) : latestEndMs;
    let held = this.byOwner.get(session.owner);
    if (!held) {
      held = new Map();
      this.byOwner.set(session.owner, held);
    }
    held.set(session.sessionId, {
      sessionId: session.sessionId,
      owner: session.owner,
      minKw: session.minKw,
      expectedEndMs: Math.min(expectedEndMs, latestEndMs),
      latestEndMs,
    });
    this.ownerOf.set(session.sessionId, session.owner);
  }

  remove(sessionId: string): void {
    const owner = this.ownerOf.get(sessionId);
    if (owner === undefined) return;
    this.ownerOf.delete(sessionId);
    const held = this.byOwner.get(owner);
    held?.delete(sessionId);
    if (held?.size === 0) this.byOwner.delete(owner);
  }

  /** Counts a request in its caller's usage while it is dispatched; call the result when it is done. */
  reserve(owner: string, minKw: number): () => void {
    const p = this.pending.get(owner) ?? { count: 0, minKw: 0 };
    p.count += 1;
    p.minKw += minKw;
    this.pending.set(owner, p);
    return () => {
      p.count -= 1;
      p.minKw -= minKw;
      if (p.count === 0) this.pending.delete(owner);
    };
  }

  usage(owner: string): OwnerUsage {
    this.expire(owner);
    const pending = this.pending.get(owner);
    let committedMinKw = pending?.minKw ?? 0;
    const held = this.byOwner.get(owner);
    for (const h of held?.values() ?? []) committedMinKw += h.minKw;
    return { activeSessions: (held?.size ?? 0) + (pending?.count ?? 0), committedMinKw };
  }

  /**
   * The caller's sessions most likely to have ended without this balancer hearing of it (curtailed, stopped
   * at the substation, energy reached sooner): those expected to end first. At most `limit`, so asking
   * their substations stays cheap.
   */
  uncertain(owner: string, limit = 20): string[] {
    return [...(this.byOwner.get(owner)?.values() ?? [])]
      .sort((a, b) => a.expectedEndMs - b.expectedEndMs)
      .slice(0, limit)
      .map((h) => h.sessionId);
  }

  /** Seconds until the caller's first session is expected to end: when a refused caller may try again. */
  retryAfterS(owner: string): number {
    const nowMs = this.now();
    let first = Number.POSITIVE_INFINITY;
    for (const h of this.byOwner.get(owner)?.values() ?? []) first = Math.min(first, h.expectedEndMs);
    return Math.min(3600, Math.max(1, Math.ceil((first - nowMs) / 1000)));
  }

  private expire(owner: string): void {
    const nowMs = this.now();
    for (const h of [...(this.byOwner.get(owner)?.values() ?? [])]) {
      if (h.latestEndMs <= nowMs) this.remove(h.sessionId);
    }
  }
}

import type { Session } from "@evgrid/contract";
import type { OwnerUsage } from "@evgrid/policy";
import { Heap } from "heap-js";

interface Held {
  sessionId: string;
  owner: string;
  minKw: number;
  /** When the substation expected it to end, at its allocation when admitted. */
  expectedEndMs: number;
  /** When it ends at the latest: its time is up, or its energy delivered at no more than its minimum. */
  latestEndMs: number;
}

/** One caller's sessions, with running sums: usage is O(1) (plus what expires), whatever it holds. */
interface OwnerBook {
  held: Map<string, Held>;
  committedMinKw: number;
  /** Reserved for requests being dispatched. */
  pendingCount: number;
  pendingMinKw: number;
}

const MS_PER_HOUR = 3_600_000;

/**
 * The sessions each caller holds across the grid, for its quotas. Filled from this balancer's admissions
 * and emptied by stops through it and by time: a session is counted until it must have ended, so a caller
 * is never under-counted. Sessions that ended early (stopped at the substation, curtailed, energy reached
 * sooner) are over-counted until the caller hits its quota and the dispatcher asks their substations.
 * Holds one entry per active session admitted here, so it is bounded by what the grid can power; each
 * operation costs O(log n) (a heap of end times), never a walk over a caller's sessions.
 */
export class OwnerLedger {
  private readonly owners = new Map<string, OwnerBook>();
  private readonly ownerOf = new Map<string, string>();
  /** Every held session by its latest end; removed ones are dropped lazily. */
  private readonly ends = new Heap<Held>((a, b) => a.latestEndMs - b.latestEndMs);

  constructor(private readonly now: () => number = Date.now) {}

  add(session: Session): void {
    if (this.ownerOf.has(session.sessionId)) return;
    const startedMs = Date.parse(session.startedAt);
    const latestEndMs =
      session.durationS !== null
        ? startedMs + session.durationS * 1000
        : startedMs + ((session.energyKwh ?? 0) / session.minKw) * MS_PER_HOUR;
    const expectedEndMs = session.expectedEndAt ? Date.parse(session.expectedEndAt) : latestEndMs;
    const held: Held = {
      sessionId: session.sessionId,
      owner: session.owner,
      minKw: session.minKw,
      expectedEndMs: Math.min(expectedEndMs, latestEndMs),
      latestEndMs,
    };
    const book = this.book(session.owner);
    book.held.set(held.sessionId, held);
    book.committedMinKw += held.minKw;
    this.ownerOf.set(held.sessionId, held.owner);
    this.ends.push(held);
  }

  remove(sessionId: string): void {
    const owner = this.ownerOf.get(sessionId);
    if (owner === undefined) return;
    this.ownerOf.delete(sessionId);
    const book = this.owners.get(owner);
    const held = book?.held.get(sessionId);
    if (!book || !held) return;
    book.held.delete(sessionId);
    book.committedMinKw -= held.minKw;
    this.dropIfEmpty(owner, book);
  }

  /** Counts a request in its caller's usage while it is dispatched; call the result when it is done. */
  reserve(owner: string, minKw: number): () => void {
    const book = this.book(owner);
    book.pendingCount += 1;
    book.pendingMinKw += minKw;
    return () => {
      book.pendingCount -= 1;
      book.pendingMinKw -= minKw;
      this.dropIfEmpty(owner, book);
    };
  }

  usage(owner: string): OwnerUsage {
    this.expire();
    const book = this.owners.get(owner);
    if (!book) return { activeSessions: 0, committedMinKw: 0 };
    return {
      activeSessions: book.held.size + book.pendingCount,
      // Sums of floats drift: an empty book is exactly zero.
      committedMinKw: book.held.size + book.pendingCount === 0 ? 0 : book.committedMinKw + book.pendingMinKw,
    };
  }

  /**
   * The caller's sessions most likely to have ended without this balancer hearing of it (curtailed, stopped
   * at the substation, energy reached sooner): those expected to end first. At most `limit`, so asking
   * their substations stays cheap. Only called when the caller is at its quota.
   */
  uncertain(owner: string, limit = 20): string[] {
    return [...(this.owners.get(owner)?.held.values() ?? [])]
      .sort((a, b) => a.expectedEndMs - b.expectedEndMs)
      .slice(0, limit)
      .map((h) => h.sessionId);
  }

  /** Every session this replica knows is held (to write back into a shared store that forgot them). */
  held(): { owner: string; sessionId: string; minKw: number; latestEndMs: number }[] {
    this.expire();
    return [...this.owners.values()].flatMap((book) =>
      [...book.held.values()].map(({ owner, sessionId, minKw, latestEndMs }) => ({
        owner,
        sessionId,
        minKw,
        latestEndMs,
      })),
    );
  }

  /** Seconds until the caller's first session is expected to end: when a refused caller may try again. */
  retryAfterS(owner: string): number {
    const nowMs = this.now();
    let first = Number.POSITIVE_INFINITY;
    for (const h of this.owners.get(owner)?.held.values() ?? []) first = Math.min(first, h.expectedEndMs);
    return Math.min(3600, Math.max(1, Math.ceil((first - nowMs) / 1000)));
  }

  /** Sessions that must have ended by now leave the books (removed ones were already gone). */
  private expire(): void {
    const nowMs = this.now();
    for (let h = this.ends.peek(); h && h.latestEndMs <= nowMs; h = this.ends.peek()) {
      this.ends.pop();
      if (this.owners.get(h.owner)?.held.get(h.sessionId) === h) this.remove(h.sessionId);
    }
  }

  private book(owner: string): OwnerBook {
    let book = this.owners.get(owner);
    if (!book) {
      book = { held: new Map(), committedMinKw: 0, pendingCount: 0, pendingMinKw: 0 };
      this.owners.set(owner, book);
    }
    return book;
  }

  private dropIfEmpty(owner: string, book: OwnerBook): void {
    if (book.held.size === 0 && book.pendingCount === 0) this.owners.delete(owner);
  }
}

import type { Session } from "@evgrid/contract";
import { type Journal, sessionOf } from "./journal.ts";

/**
 * Which session each (owner, idempotency key) started. A key is honoured while its session is active or for
 * `ttlMs` after it started: from memory for the sessions the station still holds, from the journal beyond
 * (retention keeps journal rows at least that long). After that the key may start a new session.
 */
export class IdempotencyKeys {
  /**
   * Keys are scoped to their owner (two callers may use the same key without meeting): by owner, then by the
   * key as sent, so an entry holds the session's own strings, not a joined copy of them (~90 bytes each, for
   * the ~10,000 ended sessions a station keeps).
   */
  private readonly byOwner = new Map<string, Map<string, string>>();

  constructor(
    private readonly substationId: string,
    private readonly ttlMs: number,
    private readonly journal: Journal | undefined,
  ) {}

  remember(owner: string, key: string | null, sessionId: string): void {
    if (key === null) return;
    const keys = this.byOwner.get(owner);
    if (keys) keys.set(key, sessionId);
    else this.byOwner.set(owner, new Map([[key, sessionId]]));
  }

  /** Forgets the key unless a newer session has taken it since. */
  forget(owner: string, key: string | null, sessionId: string): void {
    if (key === null) return;
    const keys = this.byOwner.get(owner);
    if (keys?.get(key) !== sessionId) return;
    keys.delete(key);
    if (keys.size === 0) this.byOwner.delete(owner);
  }

  /**
   * The session this owner started with this key, if the key is still honoured. `held` reads a session the
   * station holds in memory (undefined if it has forgotten it).
   */
  find(
    owner: string,
    key: string,
    nowMs: number,
    held: (id: string) => Session | undefined,
  ): Session | undefined {
    const sinceMs = nowMs - this.ttlMs;
    const id = this.byOwner.get(owner)?.get(key);
    const inMemory = id === undefined ? undefined : held(id);
    if (inMemory) {
      const honoured = inMemory.status === "active" || Date.parse(inMemory.startedAt) >= sinceMs;
      return honoured ? inMemory : undefined;
    }
    const rec = this.journal?.findByKey(owner, key, sinceMs);
    return rec ? sessionOf(rec, this.substationId) : undefined;
  }
}

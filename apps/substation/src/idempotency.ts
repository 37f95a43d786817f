import type { Session } from "@evgrid/contract";
import { type Journal, sessionOf } from "./journal.ts";

/**
 * Which session each (owner, idempotency key) started. A key is honoured while its session is active or for
 * `ttlMs` after it started: from memory for the sessions the station still holds, from the journal beyond
 * (retention keeps journal rows at least that long). After that the key may start a new session.
 */
export class IdempotencyKeys {
  /**
   * By the key as sent, so an entry holds the session's own strings and no joined copy (~90 bytes each, for
   * the ~10,000 ended sessions a station keeps). Keys are scoped to their owner (two callers may use the same
   * key without meeting): a key another owner holds already is kept under owner and key joined, in `clashes`.
   */
  private readonly byKey = new Map<string, string>();
  private readonly clashes = new Map<string, string>();

  constructor(
    private readonly substationId: string,
    private readonly ttlMs: number,
    private readonly journal: Journal | undefined,
    /** The owner of a session the station holds; undefined once it no longer does. */
    private readonly ownerOf: (sessionId: string) => string | undefined,
  ) {}

  remember(owner: string, key: string | null, sessionId: string): void {
    if (key === null) return;
    const first = this.byKey.get(key);
    const firstOwner = first === undefined ? undefined : this.ownerOf(first);
    if (firstOwner === undefined || firstOwner === owner || first === sessionId)
      this.byKey.set(key, sessionId);
    else this.clashes.set(scopedKey(owner, key), sessionId);
  }

  /** Forgets the key unless a newer session has taken it since. */
  forget(owner: string, key: string | null, sessionId: string): void {
    if (key === null) return;
    if (this.byKey.get(key) === sessionId) this.byKey.delete(key);
    else if (this.clashes.get(scopedKey(owner, key)) === sessionId)
      this.clashes.delete(scopedKey(owner, key));
  }

  /**
   * The session this owner started with this key, if the key is still honoured. `held` reads a session the
   * station holds in memory (undefined if it has forgotten it). `newKey`: its sender made the key for this
   * request and tries it for the first time, so the journal (a lookup with its locks) cannot have it.
   */
  find(
    owner: string,
    key: string,
    nowMs: number,
    held: (id: string) => Session | undefined,
    newKey = false,
  ): Session | undefined {
    const sinceMs = nowMs - this.ttlMs;
    const first = this.byKey.get(key);
    const id =
      first !== undefined && this.ownerOf(first) === owner ? first : this.clashes.get(scopedKey(owner, key));
    const inMemory = id === undefined ? undefined : held(id);
    if (inMemory) {
      const honoured = inMemory.status === "active" || Date.parse(inMemory.startedAt) >= sinceMs;
      return honoured ? inMemory : undefined;
    }
    if (newKey) return undefined;
    const rec = this.journal?.findByKey(owner, key, sinceMs);
    return rec ? sessionOf(rec, this.substationId) : undefined;
  }
}

const scopedKey = (owner: string, key: string) => `${owner}\u0000${key}`;

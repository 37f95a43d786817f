import type { Session } from "@evgrid/contract";

/**
 * Which active session each booking idTag claims: the OCPP gateway asks when a charger presents one, so the
 * lookup is one map read, never a walk over the sessions. Fed by the station's starts and ends, and filled
 * again from the active sessions after a restart (the tags are derived, so nothing extra is journaled).
 * A tag (an HMAC) is derived when a charger next asks, not at admission: most sessions end before any
 * charger does, and an admission's path stays free of it.
 */
export class BookingIndex {
  private readonly byTag = new Map<string, string>();
  private readonly tagOf = new Map<string, string>();
  /** Sessions started since the last lookup, their tags not derived yet. */
  private readonly untagged = new Set<string>();

  constructor(
    /** The idTag of a session (idTagFor under the service token). */
    private readonly idTagOf: (sessionId: string) => string,
    /** The session as it is now, for the answer; an ended one does not claim anything. */
    private readonly read: (sessionId: string) => Session | null,
  ) {}

  /** `now`: derive its tag at once (sessions resumed at start: the boot pays, not the first charger). */
  add(sessionId: string, now = false): void {
    if (this.tagOf.has(sessionId)) return;
    if (now) this.tag(sessionId);
    else this.untagged.add(sessionId);
  }

  remove(sessionId: string): void {
    if (this.untagged.delete(sessionId)) return;
    const tag = this.tagOf.get(sessionId);
    if (tag === undefined) return;
    this.tagOf.delete(sessionId);
    if (this.byTag.get(tag) === sessionId) this.byTag.delete(tag);
  }

  /** The active session this idTag claims here, or null. */
  find(idTag: string): Session | null {
    this.tagUntagged();
    const sessionId = this.byTag.get(idTag);
    if (sessionId === undefined) return null;
    const session = this.read(sessionId);
    if (session?.status === "active") return session;
    this.remove(sessionId);
    return null;
  }

  get size(): number {
    return this.byTag.size + this.untagged.size;
  }

  /** Tags the sessions started since the last lookup: at most the active ones, each once. */
  private tagUntagged(): void {
    for (const sessionId of this.untagged) this.tag(sessionId);
    this.untagged.clear();
  }

  private tag(sessionId: string): void {
    const tag = this.idTagOf(sessionId);
    this.byTag.set(tag, sessionId);
    this.tagOf.set(sessionId, tag);
  }
}

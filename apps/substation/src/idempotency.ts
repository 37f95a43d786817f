import type { Session } from "@evgrid/contract";

/** Idempotency keys are scoped to their owner: two callers may use the same key without meeting. */
const scopedKey = (owner: string, key: string) => `${owner}\u0000${key}`;

/** Which session each (owner, idempotency key) started, while the station still holds that session. */
export class IdempotencyKeys {
  private readonly byKey = new Map<string, string>();

  remember(owner: string, key: string | null, sessionId: string): void {
    if (key !== null) this.byKey.set(scopedKey(owner, key), sessionId);
  }

  /** Forgets the key unless a newer session has taken it since. */
  forget(owner: string, key: string | null, sessionId: string): void {
    if (key === null) return;
    const scoped = scopedKey(owner, key);
    if (this.byKey.get(scoped) === sessionId) this.byKey.delete(scoped);
  }

  /** The session this owner started with this key; `held` reads a session the station holds in memory. */
  find(owner: string, key: string, held: (id: string) => Session | undefined): Session | undefined {
    const id = this.byKey.get(scopedKey(owner, key));
    return id === undefined ? undefined : held(id);
  }
}

/**
 * Whether the shared store may drop keys on its own (a `maxmemory` with an evicting `maxmemory-policy`), and
 * whether it did. A dropped claim or home is a store that lies by omission: the next request for that vehicle
 * or key finds nothing and may start a second session elsewhere. Nothing but the store's own `INFO` shows it
 * (the epoch survives an eviction that took a claim), so each probe reads it.
 */
import type { Logger } from "@evgrid/kit";

export interface EvictionReading {
  /** `maxmemory` set and a policy other than `noeviction`: keys may go at any moment. */
  evicting: boolean;
  policy: string;
  /** The store's count of keys it evicted since it started. */
  evictedKeys: number;
}

/** The fields of an `INFO` answer that matter here; null if it has none of them (not a Redis INFO). */
export function readEvictions(info: string): EvictionReading | null {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();
  const policy = field("maxmemory_policy");
  const maxmemory = Number(field("maxmemory") ?? Number.NaN);
  const evictedKeys = Number(field("evicted_keys") ?? Number.NaN);
  if (policy === undefined || !Number.isFinite(maxmemory) || !Number.isFinite(evictedKeys)) return null;
  return { evicting: maxmemory > 0 && policy !== "noeviction", policy, evictedKeys };
}

/** What a probe learned: whether the store may evict, and how many keys it evicted since the last look. */
export interface EvictionCheck {
  evicting: boolean;
  policy: string;
  evictedSince: number;
  /** The server's run id (new at each start, and after a failover), if INFO says. */
  runId: string | undefined;
}

/** INFO's run_id. */
export const runIdOf = (info: string): string | undefined => /^run_id:([0-9a-f]+)\s*$/m.exec(info)?.[1];

/**
 * Reads `INFO` each probe and says what changed. A store that refuses `INFO` (an ACL without it, the
 * command renamed) is said once in the log and not asked again: its policy is the operator's word.
 */
export class EvictionWatch {
  private lastEvicted: number | undefined;
  private refused = false;

  constructor(private readonly log?: Logger) {}

  /** Null when nothing is known this time (the store did not answer, or refuses INFO). */
  async check(info: () => Promise<unknown>): Promise<EvictionCheck | null> {
    if (this.refused) return null;
    let reading: EvictionReading | null;
    let runId: string | undefined;
    try {
      const text = String(await info());
      reading = readEvictions(text);
      runId = runIdOf(text);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Down or slow: the epoch probe says so. Refused for good: say it once and stop asking.
      if (!/NOPERM|unknown command|ERR unknown/i.test(message)) return null;
      reading = null;
    }
    if (reading === null) {
      this.refused = true;
      this.log?.warn(
        "cannot read the state store's INFO: whether it evicts keys is unchecked (it must be maxmemory-policy noeviction)",
      );
      return null;
    }
    const before = this.lastEvicted;
    this.lastEvicted = reading.evictedKeys;
    // A count that went down is a restarted store: its epoch says so; nothing to add here.
    const evictedSince = before === undefined ? 0 : Math.max(0, reading.evictedKeys - before);
    return { evicting: reading.evicting, policy: reading.policy, evictedSince, runId };
  }
}

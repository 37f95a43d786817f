/**
 * One call in flight per key (a transaction), the newest one waiting: a call made while another runs
 * replaces any waiting one and goes once the running one answers. For calls whose last value says it all
 * (a cumulative meter register, a car's needs, a cap worked out when it is sent): a charger flooding
 * changing values costs its substation one call at a time, not one per message, and nothing is lost.
 */
export class LatestWins<K extends object> {
  /** Keys with a call running, and the call waiting behind it (with whoever waits for it). */
  private readonly running = new WeakMap<K, { waiting: Waiting | null }>();

  /** Runs `call` now, or after the running one (unless a newer one replaces it); resolves once it ran. */
  run(key: K, call: () => Promise<void>): Promise<void> {
    const slot = this.running.get(key);
    if (!slot) {
      const mine = { waiting: null };
      this.running.set(key, mine);
      return this.drive(key, mine, call);
    }
    // The call replaced is covered by this newer one: its callers are answered when this one has run.
    return new Promise((resolve) => {
      const settled = slot.waiting?.settled ?? [];
      settled.push(resolve);
      slot.waiting = { call, settled };
    });
  }

  /** Whether a call runs for the key now (one made now would wait). */
  busy(key: K): boolean {
    return this.running.has(key);
  }

  private async drive(key: K, slot: { waiting: Waiting | null }, call: () => Promise<void>): Promise<void> {
    try {
      await call();
    } catch {
      // The calls handle their own failures; one that throws must not leave the key blocked.
    }
    const next = slot.waiting;
    slot.waiting = null;
    if (!next) {
      this.running.delete(key);
      return;
    }
    void this.drive(key, slot, next.call).then(() => {
      for (const resolve of next.settled) resolve();
    });
  }
}

interface Waiting {
  call: () => Promise<void>;
  settled: Array<() => void>;
}

/**
 * One at a time per key, first come first served: the binder admits a charge point's transactions in turn, so
 * a share planned for one is admitted and bound before the next is planned. Otherwise two admissions in
 * flight at once each get the share planned without the other and the books hold both (11 + 5.5 kW on an
 * 11 kW charge point), since a session not yet admitted cannot be capped.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the key's turn: its release, or null if `signal` aborted first (its place is given up). */
  async take(key: string, signal: AbortSignal): Promise<(() => void) | null> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next in line waits for this one and everything before it, even if this one gives up its place.
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    if (signal.aborted) {
      release();
      return null;
    }
    let onAbort = () => {};
    const aborted = new Promise<false>((resolve) => {
      onAbort = () => resolve(false);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const turn = await Promise.race([before.then(() => true), aborted]);
    signal.removeEventListener("abort", onAbort);
    if (!turn) {
      release();
      return null;
    }
    return release;
  }
}

import type { PowerEvent } from "@evgrid/contract";

/** Events one watcher may have waiting before it is dropped (it then subscribes again and starts afresh). */
export const MAX_QUEUED_EVENTS = 10_000;

/**
 * What a station tells whoever watches its power: the water level after every re-share (coalesced to the
 * latest of each turn of the event loop: a burst of admissions is one event) and every end, in order. Each
 * watcher reads its own queue; a watcher too slow to keep up is dropped with an error rather than let the
 * queue grow without bound, and resubscribes (its first event is the current level again).
 */
export class PowerFeed {
  private readonly watchers = new Set<Watcher>();
  private pendingLevel: Extract<PowerEvent, { type: "level" }> | null = null;

  constructor(private readonly maxQueued = MAX_QUEUED_EVENTS) {}

  get size(): number {
    return this.watchers.size;
  }

  /** The level after a re-share; sent at the end of this turn, only the last one of the turn. */
  level(event: Extract<PowerEvent, { type: "level" }>): void {
    if (this.watchers.size === 0) return;
    const first = this.pendingLevel === null;
    this.pendingLevel = event;
    if (first) setImmediate(() => this.flushLevel());
  }

  /** A session ended: sent at once, after any level still pending from before it. */
  ended(event: Extract<PowerEvent, { type: "ended" }>): void {
    if (this.watchers.size === 0) return;
    for (const w of this.watchers) w.push(event);
  }

  /**
   * Every event from now on, starting with `current` (the level as it is), until `signal` aborts. Throws
   * when the watcher fell `maxQueued` events behind.
   */
  async *watch(current: PowerEvent, signal: AbortSignal | undefined): AsyncGenerator<PowerEvent> {
    const watcher = new Watcher(this.maxQueued);
    this.watchers.add(watcher);
    const stop = () => watcher.close();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      yield current;
      for (;;) {
        const next = await watcher.next();
        if (next === null) return;
        yield next;
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      this.watchers.delete(watcher);
    }
  }

  private flushLevel(): void {
    const event = this.pendingLevel;
    this.pendingLevel = null;
    if (event) for (const w of this.watchers) w.push(event);
  }
}

class Watcher {
  private readonly queue: PowerEvent[] = [];
  private wake: (() => void) | null = null;
  private closed = false;
  private overflowed = false;

  constructor(private readonly maxQueued: number) {}

  push(event: PowerEvent): void {
    if (this.closed) return;
    // A level replaces a level still waiting at the tail: the watcher only needs the latest.
    const last = this.queue[this.queue.length - 1];
    if (event.type === "level" && last?.type === "level") this.queue[this.queue.length - 1] = event;
    else if (this.queue.length >= this.maxQueued) {
      this.overflowed = true;
      this.closed = true;
    } else this.queue.push(event);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** The next event, null once closed (after what was queued), or an error if it fell too far behind. */
  async next(): Promise<PowerEvent | null> {
    for (;;) {
      if (this.overflowed) throw new Error(`watcher fell ${this.maxQueued} events behind; subscribe again`);
      const event = this.queue.shift();
      if (event) return event;
      if (this.closed) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }
}

import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** A seeded source of numbers: the same seed, the same run (requests and faults alike). */
export class Rng {
  private readonly rng;
  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

export type FaultKind = "pause_store" | "flush_store" | "restart_store" | "kill_replica";
export const FAULT_KINDS: readonly FaultKind[] = [
  "pause_store",
  "flush_store",
  "restart_store",
  "kill_replica",
];

export interface Fault {
  /** When, from the start of the drive. */
  atMs: number;
  kind: FaultKind;
  /** How long the store stays paused, or the replica dead, before it is resumed or restarted. */
  forMs: number;
  /** Which replica (kill_replica). */
  replica: number;
}

/** `count` faults at random times over the first 80 % of the window, in order (each one runs to its end). */
export function planFaults(
  rng: Rng,
  count: number,
  windowMs: number,
  replicas: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): Fault[] {
  return Array.from({ length: count }, () => ({
    atMs: Math.round(rng.next() * windowMs * 0.8),
    kind: rng.pick(kinds),
    forMs: rng.int(1000, 5000),
    replica: rng.int(0, replicas - 1),
  })).sort((a, b) => a.atMs - b.atMs);
}

export interface FaultTarget {
  redis: {
    pause(): void;
    resume(): void;
    flushAll(): Promise<void>;
    stop(): Promise<void>;
    start(): Promise<void>;
  };
  killReplica(i: number): void;
  restartReplica(i: number): Promise<void>;
}

/** One fault, start to end: the store paused then resumed, flushed, restarted, or a replica killed and back. */
export async function inject(target: FaultTarget, fault: Fault): Promise<void> {
  switch (fault.kind) {
    case "pause_store":
      target.redis.pause();
      await Bun.sleep(fault.forMs);
      target.redis.resume();
      return;
    case "flush_store":
      await target.redis.flushAll();
      return;
    case "restart_store":
      await target.redis.stop();
      await Bun.sleep(Math.min(fault.forMs, 1000));
      await target.redis.start();
      return;
    case "kill_replica":
      target.killReplica(fault.replica);
      await Bun.sleep(Math.min(fault.forMs, 2000));
      await target.restartReplica(fault.replica);
      return;
  }
}

/** Runs the plan against `target` from `startMs`, one fault after another; resolves with what ran, and when. */
export async function runFaults(
  target: FaultTarget,
  plan: readonly Fault[],
  startMs: number,
  stopped: () => boolean,
): Promise<{ fault: Fault; ranAtMs: number }[]> {
  const ran: { fault: Fault; ranAtMs: number }[] = [];
  for (const fault of plan) {
    const waitMs = startMs + fault.atMs - Date.now();
    if (waitMs > 0) await Bun.sleep(waitMs);
    if (stopped()) break;
    ran.push({ fault, ranAtMs: Date.now() - startMs });
    await inject(target, fault);
  }
  return ran;
}

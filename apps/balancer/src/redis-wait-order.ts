import type { DispatchRequest } from "@evgrid/contract";
import { storeKeys } from "./rebuild.ts";
import type { RedisLink } from "./redis-link.ts";
import { ENTER } from "./redis-scripts.ts";
import type { OrderedWaiter, WaitOrder } from "./types.ts";

export interface WaitOrderPort {
  link: RedisLink;
  /** The store answers (else: local order only). */
  available(): boolean;
  /** A command failed: the store is down for now. */
  failed(err: unknown): void;
  /** A member that does not parse was dropped. */
  badValue(): void;
  now(): number;
}

/** Kept this long past the latest entry: longer than any wait. */
const KEEP_MS = 3_600_000;

/**
 * The wait queue's first-come-first-served order across replicas: a ticket per waiter from one counter, in
 * one sorted set (score = ticket) whose members carry what a replica needs to tell whether an earlier
 * waiter elsewhere fits (its kW, its pinned substation) and until when it waits. Expired or unreadable
 * members are dropped as they are read; the set and its counter expire after the longest wait.
 */
export class RedisWaitOrder implements WaitOrder {
  constructor(
    readonly replica: string,
    private readonly port: WaitOrderPort,
  ) {}

  async enter(req: DispatchRequest, untilMs: number): Promise<number | null> {
    if (!this.port.available()) return null;
    const member = {
      replica: this.replica,
      priority: req.priority,
      minKw: req.minKw,
      maxKw: req.maxKw,
      substationId: req.substationId,
      untilMs,
    };
    try {
      const keys = [storeKeys.wait, storeKeys.waitSeq];
      return Number(await this.port.link.run(ENTER, keys, [JSON.stringify(member), String(KEEP_MS)]));
    } catch (err) {
      this.port.failed(err);
      return null;
    }
  }

  leave(ticket: number): void {
    if (!this.port.available()) return;
    void this.port.link
      .send("ZREMRANGEBYSCORE", [storeKeys.wait, String(ticket), String(ticket)])
      .catch((err) => this.port.failed(err));
  }

  async snapshot(): Promise<OrderedWaiter[] | null> {
    if (!this.port.available()) return null;
    try {
      const raw = (await this.port.link.send("ZRANGE", [storeKeys.wait, "0", "-1"])) as string[];
      const nowMs = this.port.now();
      const live: OrderedWaiter[] = [];
      for (const m of raw) {
        const w = readWaiter(m);
        if (w === undefined) this.port.badValue();
        if (w !== undefined && w.untilMs > nowMs) live.push(w);
        else void this.port.link.send("ZREM", [storeKeys.wait, m]).catch(() => {});
      }
      return live;
    } catch (err) {
      this.port.failed(err);
      return null;
    }
  }
}

/** A member as a replica wrote it, or undefined (garbage: dropped). */
function readWaiter(raw: string): (OrderedWaiter & { untilMs: number }) | undefined {
  try {
    const w = JSON.parse(raw) as Partial<OrderedWaiter & { untilMs: number }>;
    const ok =
      typeof w.ticket === "number" &&
      typeof w.replica === "string" &&
      typeof w.minKw === "number" &&
      typeof w.maxKw === "number" &&
      typeof w.untilMs === "number";
    return ok ? (w as OrderedWaiter & { untilMs: number }) : undefined;
  } catch {
    return undefined;
  }
}

import type { ChargeRequest, DispatchResult, Session } from "@evgrid/contract";

interface Home {
  substationId: string;
  expiresAtMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What this balancer remembers about its own dispatches, so retries and repeats go back to the substation
 * that knows them (which then answers with the same session, or refuses a second one for the vehicle):
 * - concurrent requests with the same idempotency key share one dispatch;
 * - an idempotency key points at its substation for a day;
 * - a vehicle points at the substation of its active session until that session is expected to end.
 * Bounded (oldest forgotten first). Lives in this process: see the README for what that does not cover.
 */
export class DispatchMemory {
  private readonly inflight = new Map<string, Promise<DispatchResult>>();
  private readonly homes = new Map<string, Home>();

  constructor(
    private readonly maxEntries = 200_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `dispatch` once per idempotency key at a time; later callers with the key await the same result. */
  coalesce(req: ChargeRequest, dispatch: () => Promise<DispatchResult>): Promise<DispatchResult> {
    const key = req.idempotencyKey;
    if (key === undefined) return dispatch();
    const running = this.inflight.get(key);
    if (running) return running.then((r) => ({ ...r, replayed: true }));
    const p = dispatch().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Where this request (by key) or this vehicle (by its active session) already is, if known. */
  homeOf(req: ChargeRequest): string | undefined {
    const nowMs = this.now();
    for (const k of this.keysOf(req)) {
      const home = this.homes.get(k);
      if (home && home.expiresAtMs > nowMs) return home.substationId;
      if (home) this.homes.delete(k);
    }
    return undefined;
  }

  remember(req: ChargeRequest, session: Session): void {
    const nowMs = this.now();
    const endsAtMs = session.expectedEndAt ? Date.parse(session.expectedEndAt) : nowMs + DAY_MS;
    if (req.idempotencyKey !== undefined)
      this.set(`key:${req.idempotencyKey}`, session.substationId, nowMs + DAY_MS);
    if (session.status === "active") this.set(`vehicle:${req.vehicleId}`, session.substationId, endsAtMs);
  }

  forgetVehicle(vehicleId: string): void {
    this.homes.delete(`vehicle:${vehicleId}`);
  }

  private keysOf(req: ChargeRequest): string[] {
    return req.idempotencyKey !== undefined
      ? [`key:${req.idempotencyKey}`, `vehicle:${req.vehicleId}`]
      : [`vehicle:${req.vehicleId}`];
  }

  private set(k: string, substationId: string, expiresAtMs: number): void {
    this.homes.delete(k);
    this.homes.set(k, { substationId, expiresAtMs });
    if (this.homes.size > this.maxEntries) {
      const oldest = this.homes.keys().next().value;
      if (oldest !== undefined) this.homes.delete(oldest);
    }
  }
}

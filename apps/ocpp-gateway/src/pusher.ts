import { ProfilePusher, type PushOutcome } from "./profile-pusher.ts";

/** Which transaction a limit is for (the substation too, for a pusher that orders a site's pushes). */
export interface PushTarget {
  chargePointId: string;
  substationId: string;
  connectorId: number;
  transactionId: string;
}

/**
 * Where the power module sends each transaction's limit. The power module only says what each transaction
 * should have now; how and in which order the chargers are told is the pusher's.
 */
export interface Pusher {
  /** The limit the transaction should have now (W), since the re-share at `sinceMs`; a no-op if already sent. */
  want(target: PushTarget, watts: number, sinceMs: number): void;
  /** Everything is sent again on the next want (the charger reconnected), or one connector's (its tx ended). */
  forget(chargePointId: string, connectorId?: number): void;
  /** The charge point is gone. */
  drop(chargePointId: string): void;
  /** What the connector was last sent (for listChargePoints). */
  lastSent(chargePointId: string, connectorId: number): number | null;
}

export type SendLimit = (target: PushTarget, watts: number) => Promise<string>;
export type OnPushOutcome = (target: PushTarget, outcome: PushOutcome, watts: number) => void;

/** Each charger told on its own: one call at a time per charger, the newest value per connector. */
export class PerChargerPusher implements Pusher {
  private readonly pushers = new Map<string, ProfilePusher>();

  constructor(
    private readonly send: SendLimit,
    private readonly onOutcome: OnPushOutcome,
  ) {}

  want(target: PushTarget, watts: number, sinceMs: number): void {
    let p = this.pushers.get(target.chargePointId);
    if (!p) {
      p = new ProfilePusher(
        (connectorId, transactionId, w) => this.send({ ...target, connectorId, transactionId }, w),
        (o, connectorId, w) => this.onOutcome({ ...target, connectorId }, o, w),
      );
      this.pushers.set(target.chargePointId, p);
    }
    p.want(target.connectorId, target.transactionId, watts, sinceMs);
  }

  forget(chargePointId: string, connectorId?: number): void {
    this.pushers.get(chargePointId)?.forget(connectorId);
  }

  drop(chargePointId: string): void {
    this.pushers.delete(chargePointId);
  }

  lastSent(chargePointId: string, connectorId: number): number | null {
    return this.pushers.get(chargePointId)?.lastSent(connectorId) ?? null;
  }
}

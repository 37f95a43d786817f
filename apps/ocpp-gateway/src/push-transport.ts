/**
 * The pusher's side of the wire (what it needs from the gateway, how an answer is classified) and its books.
 */
import { backoffDelayMs } from "@evgrid/kit/retry";
import { type ConnectorPower, committedW, sendable } from "@evgrid/policy";
import { TimeoutError } from "ocpp-rpc";
import { STRAY_TX } from "./stray-draw.ts";

export type PushOutcome = "accepted" | "rejected" | "timeout" | "lost";

/** How the pusher reaches the chargers: one SetChargingProfile; resolves the charger's status. */
export interface PushTransport {
  /** `connectorId` 0 with `transactionId` null: the charge-point-wide default (TxDefaultProfile). */
  send(
    chargePointId: string,
    connectorId: number,
    transactionId: string | null,
    watts: number,
  ): Promise<string>;
  /** Each answer (metrics, logs); latency from the re-share to the answer that reached its target, or null. */
  outcome(
    chargePointId: string,
    connectorId: number,
    watts: number,
    o: PushOutcome,
    latencyMs: number | null,
  ): void;
  /**
   * A charger became unmanaged (true: managed again): its sessions are pinned at their maximum, or not.
   * `refuses`: unmanaged by a refusal (or a meter showing it ignores its limits), not by silence.
   */
  managed(chargePointId: string, managed: boolean, refuses: boolean): void;
}

export interface PusherSettings {
  /** First wait after a charger rejected a limit or did not answer; doubled on every failure... */
  backoffMs: number;
  /** ...up to this. */
  backoffMaxMs: number;
  /** The charge-point-wide default limit sent at boot and after each reconnect (W). */
  defaultW: number;
}

/** One SetChargingProfile, its answer classified (never throws). */
export async function pushOnce(
  transport: PushTransport,
  chargePointId: string,
  connectorId: number,
  transactionId: string | null,
  watts: number,
): Promise<PushOutcome> {
  try {
    const status = await transport.send(chargePointId, connectorId, transactionId, watts);
    return status === "Accepted" ? "accepted" : "rejected";
  } catch (err) {
    // ocpp-rpc's TimeoutError keeps Error's name: only its class tells it apart.
    if (err instanceof TimeoutError) return "timeout";
    // A CALLERROR (NotImplemented, NotSupported...) is an answer: the charger cannot take the limit.
    if ((err as { rpcErrorCode?: string }).rpcErrorCode !== undefined) return "rejected";
    return "lost";
  }
}

export interface Slot {
  chargePointId: string;
  /** The site whose books hold it (its charger's may have changed since it opened). */
  substationId: string;
  connectorId: number;
  transactionId: string;
  power: ConnectorPower;
  /** The re-share the pending target came from (latency), null once reached. */
  sinceMs: number | null;
  /** Sent again even if unchanged (after a reconnect the charger is told its limit once more). */
  resend: boolean;
  lastSentW: number | null;
  /**
   * Its session ended and the charger was asked to stop: a refusal of its limit (as of one forgotten, whose
   * transaction ended) says the transaction is gone, not that the charger takes no limits.
   */
  ending?: boolean;
  /**
   * Opened with no default in force (its charger had not accepted it): it may draw nothing (a default taken
   * since applies to it) or up to its maximum (one that does not). Counted at its maximum, and its first
   * limit waits until no decrease is in flight at its site: whichever it was, that limit never raises it
   * into room others have not given up yet.
   */
  unknownDraw?: boolean;
  /** The most it was counted at since its meter was last checked against it (overdraw.ts; W). */
  peakW: number;
  /** When it entered the books, and the energy they allowed it since, up to `allowedAtMs` (Wh). */
  openedAtMs: number;
  allowedWh: number;
  allowedAtMs: number;
}

/** A decrease is in flight at the site: an unknown draw's first limit waits for it (Slot.unknownDraw). */
export function decreasing(site: Site): boolean {
  for (const slot of site.slots.values()) {
    const { inFlightW, acceptedW } = slot.power;
    if (inFlightW !== null && inFlightW < acceptedW) return true;
  }
  return false;
}

export interface ChargerState {
  substationId: string;
  connected: boolean;
  busy: boolean;
  managed: boolean;
  /** Its default was accepted: a transaction starts under it at defaultW, not unlimited. */
  defaultAccepted: boolean;
  defaultWanted: boolean;
  defaultInFlight: boolean;
  /** Waiting for the default's answer (the boot is answered after it). */
  defaultWaiters: (() => void)[];
  /** Counts its connections: an answer from an older one (a call lost with it) changes nothing. */
  epoch: number;
  failures: number;
  /** Its last answer refused a limit (not silence): it takes none, not merely slow to say so. */
  refuses: boolean;
  /**
   * Its meter showed it drawing more than it had accepted (overdraw.ts): it takes no limits, whatever it
   * answers, until an operator clears it (kept in the registry across restarts).
   */
  overdraws: boolean;
  retryAtMs: number;
  retry: ReturnType<typeof setTimeout> | null;
  slots: Map<number, Slot>;
}

/** Per site: its budget (W; null: unknown yet, nothing may rise) and its connectors in order of arrival. */
export interface Site {
  budgetW: number | null;
  slots: Map<string, Slot>;
  /**
   * Connectors that may need a call (a new target, an answer in, a resend), oldest first: planning looks at
   * these only, so an answer at a site of thousands costs one connector's check, not a pass over all.
   */
  waiting: Set<Slot>;
  /**
   * Σ over its chargers of their slots' committedW, each charger at most its charge point's maximum (a
   * charger with two connectors counted at its maximum each can still draw its maximum only), kept as each
   * changes (setPower): planning must not recount the site per answer.
   */
  heldW: number;
  /** Chargers whose default is to be sent (before anything else). */
  defaults: Set<string>;
  planned: boolean;
}

export const newSlot = (
  chargePointId: string,
  substationId: string,
  connectorId: number,
  transactionId: string,
  power: ConnectorPower,
  sinceMs: number,
  resend: boolean,
): Slot => ({
  chargePointId,
  substationId,
  connectorId,
  transactionId,
  power,
  sinceMs,
  resend,
  lastSentW: null,
  peakW: committedW(power),
  openedAtMs: sinceMs,
  allowedWh: 0,
  allowedAtMs: sinceMs,
});

export const newSite = (): Site => ({
  budgetW: null,
  slots: new Map(),
  waiting: new Set(),
  heldW: 0,
  defaults: new Set(),
  planned: false,
});

/** A charger as the pusher first sees it: not connected, managed until it refuses a limit. */
export function newChargerState(substationId: string): ChargerState {
  return {
    substationId,
    connected: false,
    busy: false,
    managed: true,
    defaultAccepted: false,
    defaultWanted: false,
    defaultInFlight: false,
    defaultWaiters: [],
    epoch: 0,
    failures: 0,
    refuses: false,
    overdraws: false,
    retryAtMs: 0,
    retry: null,
    slots: new Map(),
  };
}

/** An operator trusts a charger caught drawing over its limits again: no back-off, its next acceptance counts. */
export function trusted(ch: ChargerState): void {
  ch.overdraws = false;
  ch.failures = 0;
  ch.retryAtMs = 0;
  if (ch.retry) clearTimeout(ch.retry);
  ch.retry = null;
}

/** How long a charger that refused or ignored its last `failures` limits is left alone (kit's back-off). */
export function retryDelayMs(cfg: PusherSettings, failures: number): number {
  return backoffDelayMs(failures - 1, { delayMs: cfg.backoffMs, maxDelayMs: cfg.backoffMaxMs });
}

/** A connector's key in its site's books. */
export const slotKey = (chargePointId: string, connectorId: number) => `${chargePointId}\u0000${connectorId}`;

/** Whether the site's books still hold this slot (not once its transaction ended, or another took it). */
export const holds = (site: Site | undefined, slot: Slot): site is Site =>
  site?.slots.get(slotKey(slot.chargePointId, slot.connectorId)) === slot;

/**
 * The connectors of a site that may be sent their limit now, break before make (decreases first), then the
 * unchanged ones to send again; `work`: connectors looked at. Those in flight or at their target leave the
 * waiting set (an answer or a new target puts them back), so answers cost in proportion to what changed.
 */
export function dueSlots(site: Site): { go: Slot[]; work: number } {
  const changes = new Map<Slot, ConnectorPower>();
  const resends: Slot[] = [];
  const work = site.waiting.size;
  for (const slot of site.waiting) {
    const { inFlightW, targetW, acceptedW } = slot.power;
    // A draw counted with no transaction (stray-draw.ts): no limit to send it.
    if (inFlightW !== null || (targetW === acceptedW && !slot.resend) || slot.transactionId === STRAY_TX)
      site.waiting.delete(slot);
    // An unchanged limit sent again after a reconnect changes nothing in the books.
    else if (targetW === acceptedW) resends.push(slot);
    else changes.set(slot, slot.power);
  }
  if (changes.size === 0) return { go: resends, work };
  return { go: [...sendable(changes, site.budgetW ?? 0, site.heldW), ...resends], work };
}

/** A charger's answer in its books: back-off reset or doubled; whether it became managed or unmanaged. */
export function settled(ch: ChargerState, cfg: PusherSettings, o: PushOutcome, nowMs: number): boolean {
  if (o === "lost") return false; // the connection's fault, not the charger's
  // One whose meter showed it ignores its limits is not believed when it says it took one.
  const managed = o === "accepted" && !ch.overdraws;
  ch.refuses = o === "rejected" || ch.overdraws;
  if (managed) {
    ch.failures = 0;
    ch.retryAtMs = 0;
  } else {
    ch.failures += 1;
    ch.retryAtMs = nowMs + retryDelayMs(cfg, ch.failures);
  }
  if (managed === ch.managed) return false;
  ch.managed = managed;
  return true;
}

/** Resolves once the charger answers its default (or after `waitMs`, whichever is first). */
export function defaultAnswered(ch: ChargerState, waitMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    timer.unref?.();
    ch.defaultWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

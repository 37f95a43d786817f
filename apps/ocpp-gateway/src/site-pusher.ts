import { answered, budgetWatts, sent } from "@evgrid/policy";
import {
  type ChargerState,
  decreasing,
  defaultAnswered,
  dueSlots,
  holds,
  newSlot,
  type PusherSettings,
  type PushOutcome,
  type PushTransport,
  pushOnce,
  type Site,
  type Slot,
  settled,
  slotKey,
  trusted,
} from "./push-transport.ts";
import type { Pusher, PushTarget } from "./pusher.ts";
import { SiteBooks } from "./site-books.ts";
import { changing, setPower } from "./site-sums.ts";
import { STRAY_TX } from "./stray-draw.ts";

/**
 * Sends chargers their power limits, per substation, break before make (packages/policy): decreases at
 * once, an increase only once the decreases it needs are acknowledged, against the substation's effective
 * capacity. Per charger one call at a time (OCPP-J allows one outstanding call per direction) and only the
 * newest value per connector: a burst of re-shares collapses into one more call. A charger that rejects
 * limits or does not answer is unmanaged (counted at its maximum) and retried with a bounded exponential
 * back-off until it accepts one.
 */
export class SitePusher extends SiteBooks implements Pusher {
  /** Connectors looked at by planning so far: what a site's answers cost (tests; linear, not quadratic). */
  planWork = 0;

  constructor(
    private readonly transport: PushTransport,
    private readonly cfg: PusherSettings,
    private readonly now: () => number = Date.now,
    /** Chargers caught before (the registry's mark): they take no limits from their first answer. */
    caughtBefore: (chargePointId: string) => boolean = () => false,
  ) {
    super(caughtBefore);
  }

  /** The substation's effective capacity, from its level event. */
  setBudget(substationId: string, effectiveCapacityKw: number): void {
    this.site(substationId).budgetW = budgetWatts(effectiveCapacityKw);
    this.plan(substationId);
  }

  /** The charger booted or came back: its default is installed first, then every limit is sent again. */
  online(chargePointId: string, substationId: string, waitMs = 0): Promise<void> {
    const ch = this.charger(chargePointId, substationId);
    if (!ch.connected) this.newConnection(ch);
    ch.connected = true;
    // One on its way already answers for this one too.
    if (!ch.defaultInFlight) ch.defaultWanted = true;
    this.site(substationId).defaults.add(chargePointId);
    for (const slot of ch.slots.values()) this.touch(slot, true);
    this.plan(substationId);
    // Backing off (it refused before): not waited for; it is sent when the back-off ends.
    if (this.now() < ch.retryAtMs) return Promise.resolve();
    return defaultAnswered(ch, waitMs);
  }

  offline(chargePointId: string): void {
    const ch = this.chargers.get(chargePointId);
    if (!ch) return;
    ch.connected = false;
    for (const wake of ch.defaultWaiters.splice(0)) wake();
  }

  /** Calls made on the old connection are lost with it (it may have applied them, or not). */
  private newConnection(ch: ChargerState): void {
    ch.epoch += 1;
    ch.busy = false;
    ch.defaultInFlight = false;
    // In force again only once this connection's charger says so: until then a new transaction is unlimited.
    ch.defaultAccepted = false;
    for (const slot of ch.slots.values())
      if (slot.power.inFlightW !== null) this.touch(slot, slot.resend, answered(slot.power, "lost"));
  }

  /** A transaction opened: in the books from now, at the default if its charger took it, else its maximum. */
  opened(t: PushTarget): void {
    const ch = this.charger(t.chargePointId, t.substationId);
    // A draw with no transaction (stray-draw.ts) is under no default: at its maximum (a review: it was at 0).
    const underDefault = ch.defaultAccepted && ch.managed && t.transactionId !== STRAY_TX;
    const acceptedW = underDefault ? this.cfg.defaultW : t.maxW;
    // Nothing to send: its first limit comes once bound (after the charger has its transaction id).
    const slot = this.add(ch, t, acceptedW, acceptedW, false);
    slot.unknownDraw = !underDefault;
  }

  /** The limit a connector's transaction should have now (W, already rounded down). */
  want(t: PushTarget, targetW: number, sinceMs: number, ending = false): void {
    const ch = this.charger(t.chargePointId, t.substationId);
    const slot = ch.slots.get(t.connectorId);
    // Not seen opening (restored after a restart, say): what holds it is unknown, so its maximum.
    if (!slot || slot.transactionId !== t.transactionId) this.add(ch, t, t.maxW, targetW, true);
    else {
      slot.ending ||= ending; // (release() asks for an open transaction's slot only)
      this.touch(slot, slot.resend || slot.lastSentW === null); // its first goes out even if unchanged
      if (slot.power.targetW !== targetW) {
        slot.power = { ...slot.power, targetW };
        slot.sinceMs ??= sinceMs;
      }
    }
    this.plan(t.substationId);
  }

  /** The transaction ended: its connector leaves the books (the charger stopped drawing for it). */
  forget(chargePointId: string, connectorId: number): void {
    const ch = this.chargers.get(chargePointId);
    const slot = ch?.slots.get(connectorId);
    if (!ch || !slot) return;
    const site = this.sites.get(slot.substationId);
    changing(holds(site, slot) ? site : undefined, ch, () => {
      ch.slots.delete(connectorId);
      site?.slots.delete(slotKey(chargePointId, connectorId));
    });
    site?.waiting.delete(slot);
    this.plan(slot.substationId);
  }

  /**
   * Its meter shows it draws more than it accepted: it takes no limits, whatever it answers from now on
   * (counted at its maximum, its sessions pinned there). False if it was known to already.
   */
  ignoresLimits(chargePointId: string): boolean {
    const ch = this.chargers.get(chargePointId);
    if (!ch || ch.overdraws) return false;
    ch.overdraws = true;
    this.settle(chargePointId, ch, "rejected");
    this.plan(ch.substationId);
    return true;
  }

  /** An operator trusts it again: limits resent now, managed at its next acceptance. False: not caught here. */
  trustAgain(chargePointId: string): boolean {
    const ch = this.chargers.get(chargePointId);
    if (!ch?.overdraws) return false;
    trusted(ch);
    for (const slot of ch.slots.values()) this.touch(slot, true);
    this.plan(ch.substationId);
    return true;
  }

  drop(chargePointId: string): void {
    const ch = this.chargers.get(chargePointId);
    if (!ch) return;
    for (const connectorId of [...ch.slots.keys()]) this.forget(chargePointId, connectorId);
    if (ch.retry) clearTimeout(ch.retry);
    this.chargers.delete(chargePointId);
  }

  close(): void {
    for (const ch of this.chargers.values()) if (ch.retry) clearTimeout(ch.retry);
  }

  private plan(substationId: string): void {
    const site = this.site(substationId);
    if (site.planned) return;
    site.planned = true;
    // Once per turn: a burst of wants and answers is planned together.
    queueMicrotask(() => {
      site.planned = false;
      this.planNow(site);
    });
  }

  private planNow(site: Site): void {
    const nowMs = this.now();
    for (const id of site.defaults) {
      const ch = this.chargers.get(id);
      if (!ch?.defaultWanted) site.defaults.delete(id);
      else if (this.ready(ch, nowMs)) this.sendDefault(id, ch);
    }
    const { go, work } = dueSlots(site);
    this.planWork += work;
    // Decreases and known draws first; then an unknown draw's first limit, if no decrease is in flight.
    const unknown = go.filter((slot) => slot.unknownDraw);
    for (const slot of unknown.length === 0 ? go : [...go.filter((s) => !s.unknownDraw), ...unknown]) {
      if (slot.unknownDraw && decreasing(site)) continue; // still waiting: planned again on each answer
      const ch = this.chargers.get(slot.chargePointId);
      if (ch && this.ready(ch, nowMs) && !ch.defaultWanted) this.sendLimit(slot, ch);
    }
  }

  /** A connector may need a call: planned with the next pass (and sent again even if unchanged: `resend`). */
  private touch(slot: Slot, resend: boolean, power = slot.power): void {
    const ch = this.chargers.get(slot.chargePointId);
    const site = this.sites.get(slot.substationId);
    if (ch) setPower(site, ch, slot, power, this.now());
    else slot.power = power;
    slot.resend = resend;
    if (holds(site, slot)) site.waiting.add(slot);
  }

  /** Connected, no call out, and not backing off (a retry is scheduled for when it may). */
  private ready(ch: ChargerState, nowMs: number): boolean {
    if (!ch.connected || ch.busy) return false;
    if (nowMs >= ch.retryAtMs) return true;
    ch.retry ??= setTimeout(() => {
      ch.retry = null;
      this.plan(ch.substationId);
    }, ch.retryAtMs - nowMs);
    ch.retry.unref?.();
    return false;
  }

  private sendDefault(chargePointId: string, ch: ChargerState): void {
    ch.busy = true;
    ch.defaultWanted = false;
    ch.defaultInFlight = true;
    const startMs = this.now();
    const epoch = ch.epoch;
    void pushOnce(this.transport, chargePointId, 0, null, this.cfg.defaultW).then((o) => {
      if (ch.epoch !== epoch) return;
      ch.busy = false;
      ch.defaultInFlight = false;
      // Lost: the connection is gone; the next online() (its reconnect) sends the default again.
      if (o === "lost") ch.connected = false;
      else ch.defaultAccepted = o === "accepted";
      for (const wake of ch.defaultWaiters.splice(0)) wake();
      this.settle(chargePointId, ch, o);
      this.transport.outcome(chargePointId, 0, this.cfg.defaultW, o, this.now() - startMs);
      this.plan(ch.substationId);
    });
  }

  private sendLimit(slot: Slot, ch: ChargerState): void {
    ch.busy = true;
    slot.resend = false;
    slot.unknownDraw = false; // once its limit is acknowledged, it draws at most that
    setPower(this.sites.get(slot.substationId), ch, slot, sent(slot.power), this.now());
    const watts = slot.power.targetW;
    slot.lastSentW = watts;
    const epoch = ch.epoch;
    void pushOnce(this.transport, slot.chargePointId, slot.connectorId, slot.transactionId, watts).then(
      (o) => {
        if (ch.epoch !== epoch) return;
        ch.busy = false;
        // Lost: sent again once it is back. One whose meter showed it ignores its limits is not believed.
        const power = answered(slot.power, o);
        this.touch(slot, o === "lost", ch.overdraws ? { ...power, managed: false } : power);
        if (o === "lost") ch.connected = false;
        const reached = o === "accepted" && slot.power.acceptedW === slot.power.targetW;
        const latencyMs = reached ? this.now() - (slot.sinceMs ?? this.now()) : null;
        if (reached) slot.sinceMs = null;
        this.transport.outcome(slot.chargePointId, slot.connectorId, watts, o, latencyMs);
        // A transaction gone refuses its limit: asked again only once the charger reconnects.
        if (o === "rejected" && (slot.ending || ch.slots.get(slot.connectorId) !== slot))
          this.sites.get(slot.substationId)?.waiting.delete(slot);
        else this.settle(slot.chargePointId, ch, o);
        this.plan(slot.substationId);
      },
    );
  }

  /** Managed again on an acceptance; unmanaged, backing off, on a refusal or silence. */
  private settle(chargePointId: string, ch: ChargerState, o: PushOutcome): void {
    const refused = ch.refuses;
    if (!settled(ch, this.cfg, o, this.now())) {
      // Unmanaged by silence so far, now by a refusal: its waiting transactions cannot wait at 0 W.
      if (!ch.managed && ch.refuses && !refused) this.transport.managed(chargePointId, false, true);
      return;
    }
    const managed = ch.managed;
    for (const slot of ch.slots.values()) this.touch(slot, slot.resend, { ...slot.power, managed });
    this.transport.managed(chargePointId, managed, ch.refuses);
  }

  private add(ch: ChargerState, t: PushTarget, acceptedW: number, targetW: number, resend: boolean): Slot {
    const { chargePointId, connectorId, transactionId, maxW } = t;
    if (ch.slots.has(connectorId)) this.forget(chargePointId, connectorId);
    const power = { acceptedW, inFlightW: null, targetW, maxW, managed: ch.managed };
    const slot = newSlot(
      chargePointId,
      t.substationId,
      connectorId,
      transactionId,
      power,
      this.now(),
      resend,
    );
    const site = this.site(t.substationId);
    changing(site, ch, () => {
      ch.slots.set(connectorId, slot);
      site.slots.set(slotKey(chargePointId, connectorId), slot);
    });
    site.waiting.add(slot);
    return slot;
  }
}

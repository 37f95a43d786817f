import { errorDataOf } from "@evgrid/contract";
import { Backoff, type Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import type { Grid } from "./grid.ts";
import { LatestWins } from "./latest-wins.ts";
import type { Tx } from "./model.ts";

/** Refusals of a pin: the charger's maximum does not fit beside the others' minimums. */
const NO_ROOM = new Set(["INSUFFICIENT_CAPACITY", "OPERATOR_LIMIT"]);
/** A sync that failed is tried again after this, doubling while they keep failing (to RETRY_MAX_MS). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * A bound session's cap at its substation (setSessionCap): the lower of its share of the charge point's
 * maximum and a reclaim; and its pin while its charger takes no limits (held at that cap, or its maximum,
 * whatever the level, so the others' shares leave room for what it may really draw; no reclaim then), or
 * while its charger is disconnected (held at the limit it may still be charging at, offline, until it is
 * back or its grace ends the session). The cap is recorded at once (optimistic), so a burst of readings
 * asks once; a refusal puts the old one back. One setSessionCap at a time per transaction: a sync asked
 * while one runs goes after it, working out the cap then (a car flooding changing maximums asks no more).
 */
export class Caps {
  private readonly calls = new LatestWins<Tx>();
  /** Sessions whose substation restarted since their cap and pin were last sent (resend). */
  private readonly forgotten = new WeakSet<Tx>();
  /**
   * Per substation, sessions whose last sync failed short of an answer that settles it (a timeout, a link
   * closed, an offline pin refused for room): synced again with that substation's own back-off (one down
   * for long does not make another's retries wait as long). A pin lost that way left the substation sharing
   * out what the charger may draw, for good (a hostile-charger probe).
   */
  private readonly unsettled = new Map<string, Unsettled>();
  private closed = false;
  private readonly levelRetryAtMs = new Map<string, number>();

  constructor(
    private readonly grid: Grid,
    private readonly log: Logger,
    /** Whether the charge point takes limits (site-pusher.ts); if not, its sessions are pinned. */
    private readonly isManaged: (chargePointId: string) => boolean,
    /** A session whose charger takes no limits, and whose maximum does not fit: it must stop. */
    private readonly onPinRefused: (tx: Tx) => void,
    /** What a disconnected charger's transaction may still draw (kW, site-pusher.ts); null while connected. */
    private readonly offlineHeldKw: (tx: Tx) => number | null,
    /** Its charge point's maximum (kW) if its meter showed it ignores its limits (overdraw.ts), else null. */
    private readonly ignoresLimitsUpTo: (chargePointId: string) => number | null = () => null,
    /**
     * While its charger takes no limits: what its session must hold at the substation (kW), its part of the
     * charge point's maximum among the charger's sessions; null if its charger is not known.
     */
    private readonly unmanagedHoldKw: (tx: Tx) => number | null = () => null,
  ) {}

  /** The cap the transaction's session should have now (null: none, its own maximum). */
  desired(tx: Tx): number | null {
    if (tx.phase.state !== "charging") return null;
    const { chargePointKw, reclaimKw, limits, evMaxKw } = tx.phase;
    const heldKw = this.offlineHeldKw(tx);
    if (heldKw !== null) return heldKw < limits.maxKw ? heldKw : null;
    const managed = this.isManaged(tx.chargePointId);
    // Taking no limits, it may draw its charge point's maximum on any connector: its sessions together hold
    // that, each its part, above its own maximum if need be (a hostile-charger probe: a booking for 11 kW at
    // a 22 kW charger that refused limits was held at 11, and the gateway's books showed 41 kW on 30).
    const holdKw = managed ? null : this.unmanagedHoldKw(tx);
    if (holdKw !== null) return holdKw === limits.maxKw ? null : holdKw;
    const reclaim = managed ? (reclaimKw ?? Number.POSITIVE_INFINITY) : Infinity;
    // The car's own maximum caps it too: power it cannot take goes to the others. Not on a charger that
    // takes no limits: that is its charger's word, which nothing holds it to, and it is pinned at what it
    // may really draw (a car claiming 1 kW there must not leave the others the 21 kW it can still take).
    const carKw = managed ? (evMaxKw ?? Infinity) : Infinity;
    const kw = Math.min(chargePointKw ?? Number.POSITIVE_INFINITY, reclaim, carKw);
    return kw < limits.maxKw ? kw : null;
  }

  /** Whether bringing the session to its desired cap lowers its power (those go first). */
  lowers(tx: Tx): boolean {
    if (tx.phase.state !== "charging") return false;
    const { limits } = tx.phase;
    return (this.desired(tx) ?? limits.maxKw) < (limits.capKw ?? limits.maxKw);
  }

  /** Brings the session's cap and pin at its substation to the desired ones; resolves once answered. */
  sync(tx: Tx): Promise<void> {
    return this.calls.run(tx, () => this.syncNow(tx));
  }

  /**
   * A substation restarted: its journal kept its sessions, not their caps and pins. Each is sent again, even
   * if unchanged here (a marker, so whichever sync runs sends it: a newer one replaces a waiting one).
   */
  restarted(substationId: string, txs: Tx[]): void {
    const bound = txs.filter((tx) => tx.phase.state === "charging");
    this.log.info("a substation restarted: its sessions' caps and pins are set again", {
      substationId,
      sessions: bound.length,
    });
    for (const tx of bound) {
      this.forgotten.add(tx);
      void this.sync(tx);
    }
  }

  /**
   * A new level at a substation: a sync that failed there is tried now, not at its back-off's end (room
   * may have come), at most once per RETRY_MIN_MS per substation (a busy site has many levels a second).
   */
  levelChanged(substationId: string): void {
    const site = this.unsettled.get(substationId);
    if (this.closed || !site || site.due.size === 0) return;
    const nowMs = Date.now();
    if (nowMs - (this.levelRetryAtMs.get(substationId) ?? 0) < RETRY_MIN_MS) return;
    this.levelRetryAtMs.set(substationId, nowMs);
    const due = [...site.due];
    site.due.clear();
    for (const tx of due) void this.sync(tx);
  }

  private async syncNow(tx: Tx): Promise<void> {
    const site = this.grid.site(tx.substationId);
    if (!site || tx.phase.state !== "charging") return;
    const capKw = this.desired(tx);
    const unmanaged = !this.isManaged(tx.chargePointId);
    const pinned = unmanaged || this.offlineHeldKw(tx) !== null;
    const { sessionId, limits } = tx.phase;
    // Its charger ignores limits: it may draw what its charge point can, whatever the session's maximum. A
    // session below that cannot be held at what it may draw (the others would be left too much): it stops.
    const canDrawKw = this.ignoresLimitsUpTo(tx.chargePointId);
    if (canDrawKw !== null && limits.maxKw < canDrawKw) {
      this.log.warn("a charger that ignores its limits may draw more than its session allows; stopping it", {
        sessionId,
        sessionMaxKw: limits.maxKw,
        chargePointKw: canDrawKw,
      });
      this.onPinRefused(tx);
      return;
    }
    // The car's own maximum, which may lower the session's minimum there (it cannot take more).
    const carMaxKw = tx.phase.evMaxKw ?? null;
    const same = capKw === limits.capKw && pinned === (limits.pinned ?? false);
    const again = this.forgotten.delete(tx);
    const asBooted = capKw === null && !pinned && carMaxKw === null; // what a restarted substation has
    if (same && carMaxKw === (limits.carMaxKw ?? null) && (!again || asBooted)) return;
    const previous = { capKw: limits.capKw, pinned: limits.pinned, carMaxKw: limits.carMaxKw };
    limits.capKw = capKw;
    limits.pinned = pinned;
    limits.carMaxKw = carMaxKw;
    try {
      await site.setSessionCap.mutate({ sessionId, capKw, pinned, carMaxKw });
      this.log.info("session cap changed", { sessionId, capKw, pinned, carMaxKw });
    } catch (err) {
      if (limits.capKw === capKw && limits.pinned === pinned && limits.carMaxKw === carMaxKw)
        Object.assign(limits, previous);
      this.failed(tx, err, unmanaged, again);
    }
  }

  /** Not taken: a charger that takes no limits and does not fit stops; a session gone is done; else retried. */
  private failed(tx: Tx, err: unknown, unmanaged: boolean, again: boolean): void {
    const reason = errorDataOf(err)?.reason ?? "";
    // Offline, it cannot be asked to stop; its grace ends it.
    if (unmanaged && NO_ROOM.has(reason)) {
      this.log.warn("a charger that takes no limits does not fit at its maximum; stopping it", {
        sessionId: tx.phase.state === "charging" ? tx.phase.sessionId : undefined,
      });
      this.onPinRefused(tx);
      return;
    }
    if (again) this.forgotten.add(tx);
    // Retried: no answer (a timeout, a link closed), a substation busy or unavailable, no room yet (an
    // offline charger's pin). Not what would fail the same way again: the session gone, a bad request.
    const code = errorDataOf(err)?.code;
    if (code === "NOT_FOUND" || code === "BAD_REQUEST" || code === "FORBIDDEN" || code === "UNAUTHORIZED") {
      this.log.warn("could not change the session's cap", { error: describeFailure(err) });
      return;
    }
    this.retryLater(tx);
    this.log.warn("could not change the session's cap; trying again", { error: describeFailure(err) });
  }

  private retryLater(tx: Tx): void {
    if (this.closed) return;
    let site = this.unsettled.get(tx.substationId);
    if (!site) {
      const backoff = new Backoff({ delayMs: RETRY_MIN_MS, maxDelayMs: RETRY_MAX_MS, jitter: 0 });
      site = { due: new Set(), timer: undefined, running: false, backoff };
      this.unsettled.set(tx.substationId, site);
    }
    site.due.add(tx);
    if (site.timer === undefined && !site.running) this.arm(tx.substationId, site);
  }

  private arm(substationId: string, site: Unsettled): void {
    site.timer = setTimeout(() => void this.retry(substationId, site), site.backoff.nextDelayMs());
    site.timer.unref?.();
  }

  private async retry(substationId: string, site: Unsettled): Promise<void> {
    site.timer = undefined;
    site.running = true;
    const due = [...site.due];
    site.due.clear();
    await Promise.all(due.map((tx) => this.sync(tx)));
    site.running = false;
    // Still failing (its substation down, or no room yet): wait longer; all through: the shortest wait again.
    if (site.due.size === 0) this.unsettled.delete(substationId);
    else if (!this.closed && site.timer === undefined) this.arm(substationId, site);
  }

  close(): void {
    this.closed = true;
    for (const site of this.unsettled.values()) clearTimeout(site.timer);
    this.unsettled.clear();
  }
}

interface Unsettled {
  due: Set<Tx>;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Its retries are running: a failure among them waits for the next arm, after them. */
  running: boolean;
  backoff: Backoff;
}

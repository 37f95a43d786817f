import { errorDataOf } from "@evgrid/contract";
import { Backoff, type Logger } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import type { Grid } from "./grid.ts";

/** The name the gateway's holds go under at each substation (setDrawHold's `source`). */
export const HOLD_SOURCE = "ocpp-gateway";
/** A hold that could not be set is tried again after this, doubling while it keeps failing (to 30 s). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** Failures that would fail the same way again (an older substation has no setDrawHold): not retried. */
const FINAL = new Set(["NOT_FOUND", "BAD_REQUEST", "FORBIDDEN", "UNAUTHORIZED"]);
/**
 * A transaction held while stopping whose end is reported is released after this, not at once: a caught
 * charger starting and stopping (each start turned away, asked to stop, held) must not re-share its site
 * at its message rate (a probe: 20 hold changes in 158 ms); nor after a whole OCPP_OVERDRAW_S, which may
 * be long.
 */
const STOPPED_RELEASE_MS = 5000;
/** A level event that disagrees with the gateway's count re-sends it at most this often per substation. */
const LEVEL_RESYNC_MS = 1000;

/**
 * What the gateway asks each substation to hold for power no session holds: a charge point counted for
 * drawing on a connector with no open transaction (stray-draw.ts) holds its maximum at its substation, once
 * however many of its connectors draw (it cannot draw more than that). The substation takes it off its
 * capacity (setDrawHold): the other sessions' shares are lowered, and so the limits their chargers accepted,
 * to fit beside it. The gateway's books count the draw before the substation hears of it, so no limit is
 * raised into it meanwhile (site-pusher.ts).
 *
 * A hold goes up at once and comes down only once the charge point has drawn nothing for `releaseMs` (the
 * over-draw window, OCPP_OVERDRAW_S): every reading over the margin with no transaction puts its release
 * off again, whether it is counted then or not (a charger probe: one opening short transactions between
 * its stray draws, or cleared by an operator while it drew, had its hold lifted while it drew on). So a
 * caught charger flipping its messages does not make its substation re-share at each one either.
 *
 * One call at a time per substation, carrying the gateway's whole count there (a newer count waits behind
 * it). A hold is not journaled by the substation: each level event says what it holds for this source, and
 * a count that differs (the substation restarted, or a call was lost) is sent again, at once even if a retry
 * was waiting (the substation answers again), at most once a second per substation. A hold the gateway finds
 * at a substation when it starts (left by its previous run) is kept for `releaseMs` as its own: its charger
 * may still draw, and is counted again at its first reading (stray-draw.ts: one caught before is at once).
 */
export class StrayHolds {
  /** Per charge point counted: its substation, the connectors drawing, its maximum (kW), its release. */
  private readonly chargers = new Map<string, CountedCharger>();
  private readonly sites = new Map<string, SiteHold>();
  private closed = false;

  constructor(
    private readonly grid: Grid,
    private readonly log: Logger,
    /** How long a charge point draws nothing before its hold comes down. */
    private readonly releaseMs: number,
  ) {}

  /** A connector of the charge point counts as drawing with no transaction. */
  count(chargePointId: string, substationId: string, connectorId: number, maxKw: number): void {
    let ch = this.chargers.get(chargePointId);
    if (ch && ch.substationId !== substationId) {
      // Moved to another substation: held there from now, and no longer at the first.
      clearTimeout(ch.releasing);
      this.chargers.delete(chargePointId);
      this.sync(ch.substationId);
      ch = undefined;
    }
    // Drawing again before its release: held on, nothing to send. A release still running goes on (it does
    // nothing while a connector counts): a transaction held while stopping, ended, does not cut it short.
    const fresh = ch === undefined;
    if (!ch) {
      ch = { substationId, connectors: new Set(), kw: maxKw, releasing: undefined };
      this.chargers.set(chargePointId, ch);
      // What a previous run left here was most likely this charger's: counted now, it is not held twice.
      const site = this.site(substationId);
      site.inheritedKw = Math.max(0, site.inheritedKw - maxKw);
    }
    ch.connectors.add(connectorId);
    if (!fresh && ch.kw === maxKw) return;
    ch.kw = maxKw;
    this.sync(substationId);
  }

  /**
   * That connector no longer counts (it draws nothing, a transaction opened there, the charger went); `now`:
   * its hold, if it was the charge point's last, comes down sooner (STOPPED_RELEASE_MS: a transaction held
   * while stopping ended).
   */
  uncount(chargePointId: string, connectorId: number, now = false): void {
    const ch = this.chargers.get(chargePointId);
    if (!ch?.connectors.delete(connectorId) || ch.connectors.size > 0) return;
    if (ch.releasing !== undefined) return; // a stray draw's release already runs: it decides
    this.releaseLater(chargePointId, ch, now ? Math.min(STOPPED_RELEASE_MS, this.releaseMs) : this.releaseMs);
  }

  /** A reading over the margin on a connector of the charge point with no transaction: its release waits. */
  drawing(chargePointId: string): void {
    const ch = this.chargers.get(chargePointId);
    if (ch?.releasing !== undefined) this.releaseLater(chargePointId, ch);
  }

  /** What the gateway's books count there now (kW): the charge points drawing, not those being released. */
  countedKw(substationId: string): number {
    let kw = 0;
    for (const ch of this.chargers.values())
      if (ch.substationId === substationId && ch.connectors.size > 0) kw += ch.kw;
    return kw;
  }

  /** What the gateway asks the substation to hold now (kW). */
  wantedKw(substationId: string): number {
    let kw = this.sites.get(substationId)?.inheritedKw ?? 0;
    for (const ch of this.chargers.values()) if (ch.substationId === substationId) kw += ch.kw;
    return kw;
  }

  /**
   * What a level event says the substation holds for this source (undefined: a substation that does not
   * hold draws). Sent again if it is not what the gateway counts there and no call is on its way.
   */
  seen(substationId: string, heldKw: number | undefined): void {
    if (heldKw === undefined || this.closed) return;
    const site = this.site(substationId);
    if (!site.seen) {
      site.seen = true;
      const surplusKw = heldKw - this.wantedKw(substationId);
      if (surplusKw > 1e-9) this.inherit(substationId, site, surplusKw);
    }
    site.heldKw = heldKw;
    this.resync(substationId, site);
  }

  /** Sends the count again if the substation's last word differs from it: now, or once a second allows. */
  private resync(substationId: string, site: SiteHold): void {
    if (this.closed || Math.abs(site.heldKw - this.wantedKw(substationId)) < 1e-9) return;
    // A call on its way may have gone to the substation's previous run (a review): once more after it.
    if (site.running) {
      site.again = true;
      return;
    }
    const waitMs = site.resyncAtMs + LEVEL_RESYNC_MS - Date.now();
    if (waitMs > 0) {
      // Not dropped (a review: a quiet site may send no other level for long): looked at again then.
      site.resyncTimer ??= setTimeout(() => {
        site.resyncTimer = undefined;
        this.resync(substationId, site);
      }, waitMs);
      site.resyncTimer.unref?.();
      return;
    }
    site.resyncAtMs = Date.now();
    this.sync(substationId);
  }

  close(): void {
    this.closed = true;
    for (const site of this.sites.values()) {
      clearTimeout(site.retry);
      clearTimeout(site.inheritedTimer);
      clearTimeout(site.resyncTimer);
    }
    for (const ch of this.chargers.values()) clearTimeout(ch.releasing);
  }

  private releaseLater(chargePointId: string, ch: CountedCharger, afterMs = this.releaseMs): void {
    clearTimeout(ch.releasing);
    if (this.closed) return;
    ch.releasing = setTimeout(() => this.release(chargePointId, ch), afterMs);
    ch.releasing.unref?.();
  }

  private release(chargePointId: string, ch: CountedCharger): void {
    clearTimeout(ch.releasing);
    ch.releasing = undefined;
    // Counted again meanwhile: held on (its next uncount releases it).
    if (this.chargers.get(chargePointId) !== ch || ch.connectors.size > 0) return;
    this.chargers.delete(chargePointId);
    this.sync(ch.substationId);
  }

  private inherit(substationId: string, site: SiteHold, kw: number): void {
    site.inheritedKw = kw;
    this.log.info("a hold left at a substation is kept until its charger is counted, or for the window", {
      substationId,
      heldKw: kw,
    });
    site.inheritedTimer = setTimeout(() => {
      site.inheritedKw = 0;
      this.sync(substationId);
    }, this.releaseMs);
    site.inheritedTimer.unref?.();
  }

  private sync(substationId: string): void {
    if (this.closed) return;
    const site = this.site(substationId);
    // Not before its first level says what it holds: a count sent first would replace what a previous run
    // left there, unseen (a probe). The first level sends it (seen).
    if (!site.seen) return;
    if (site.running) {
      site.again = true;
      return;
    }
    clearTimeout(site.retry);
    site.retry = undefined;
    site.running = true;
    site.again = false;
    void this.send(substationId, site);
  }

  private async send(substationId: string, site: SiteHold): Promise<void> {
    const kw = this.wantedKw(substationId);
    let retry = false;
    const client = this.grid.site(substationId);
    // Not known (gone from the grid): nothing to retry; its next level, once it is back, sends it (seen).
    if (!client) {
      site.running = false;
      return;
    }
    try {
      await client.setDrawHold.mutate({ source: HOLD_SOURCE, kw });
      site.backoff.reset();
      this.log.info("power drawn with no transaction held at its substation", { substationId, heldKw: kw });
    } catch (err) {
      retry = !FINAL.has(errorDataOf(err)?.code ?? "");
      this.log.warn("could not hold power drawn with no transaction at its substation", {
        substationId,
        heldKw: kw,
        error: describeFailure(err),
        retry,
      });
    }
    site.running = false;
    if (site.again) this.sync(substationId);
    else if (retry && !this.closed) {
      site.retry = setTimeout(() => {
        site.retry = undefined;
        this.sync(substationId);
      }, site.backoff.nextDelayMs());
      site.retry.unref?.();
    }
  }

  private site(substationId: string): SiteHold {
    let site = this.sites.get(substationId);
    if (!site) {
      site = {
        running: false,
        again: false,
        retry: undefined,
        resyncAtMs: 0,
        backoff: new Backoff({ delayMs: RETRY_MIN_MS, maxDelayMs: RETRY_MAX_MS, jitter: 0 }),
        seen: false,
        heldKw: 0,
        resyncTimer: undefined,
        inheritedKw: 0,
        inheritedTimer: undefined,
      };
      this.sites.set(substationId, site);
    }
    return site;
  }
}

interface CountedCharger {
  substationId: string;
  /** Its connectors counted now (none: its release is under way). */
  connectors: Set<number>;
  kw: number;
  releasing: ReturnType<typeof setTimeout> | undefined;
}

interface SiteHold {
  /** A call is on its way. */
  running: boolean;
  /** The count changed while it was: send again once it answers. */
  again: boolean;
  retry: ReturnType<typeof setTimeout> | undefined;
  /** When a level event last made it send again. */
  resyncAtMs: number;
  backoff: Backoff;
  /** A level event from it was seen since the gateway started. */
  seen: boolean;
  /** What its last level event said it holds for this source (kW). */
  heldKw: number;
  /** A resync held back by the once-a-second limit, due then. */
  resyncTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the substation held for this source when first seen, beyond the count then: kept for the window. */
  inheritedKw: number;
  inheritedTimer: ReturnType<typeof setTimeout> | undefined;
}

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
 * over-draw window, OCPP_OVERDRAW_S): a caught charger flipping its readings between nothing and its maximum
 * must not make its substation re-share, and every other charger there take a new limit, at each reading.
 *
 * One call at a time per substation, carrying the gateway's whole count there (a newer count waits behind
 * it). A hold is not journaled by the substation: each level event says what it holds, and a count that
 * differs (the substation restarted, or the gateway did, or a call was lost) is sent again, at most once a
 * second per substation; a call that fails is retried with back-off.
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
      this.release(chargePointId, ch); // moved to another substation: held there from now
      ch = undefined;
    }
    clearTimeout(ch?.releasing); // drawing again before its release: held on, nothing to send
    if (ch && ch.kw === maxKw) {
      ch.releasing = undefined;
      ch.connectors.add(connectorId);
      return;
    }
    this.chargers.set(chargePointId, {
      substationId,
      connectors: new Set([...(ch?.connectors ?? []), connectorId]),
      kw: maxKw,
      releasing: undefined,
    });
    this.sync(substationId);
  }

  /** That connector no longer counts (it draws nothing, a transaction opened there, the charger went). */
  uncount(chargePointId: string, connectorId: number): void {
    const ch = this.chargers.get(chargePointId);
    if (!ch?.connectors.delete(connectorId) || ch.connectors.size > 0 || this.closed) return;
    ch.releasing = setTimeout(() => this.release(chargePointId, ch), this.releaseMs);
    ch.releasing.unref?.();
  }

  private release(chargePointId: string, ch: CountedCharger): void {
    clearTimeout(ch.releasing);
    if (this.chargers.get(chargePointId) !== ch) return;
    this.chargers.delete(chargePointId);
    this.sync(ch.substationId);
  }

  /** What the gateway asks the substation to hold now (kW). */
  wantedKw(substationId: string): number {
    let kw = 0;
    for (const ch of this.chargers.values()) if (ch.substationId === substationId) kw += ch.kw;
    return kw;
  }

  /**
   * A level event's `heldDrawKw` (undefined: a substation that does not hold draws). Sent again if it is not
   * what the gateway counts there, and nothing is on its way.
   */
  seen(substationId: string, heldKw: number | undefined): void {
    if (heldKw === undefined || this.closed) return;
    const site = this.site(substationId);
    if (site.running || site.retry !== undefined || Math.abs(heldKw - this.wantedKw(substationId)) < 1e-9)
      return;
    const nowMs = Date.now();
    if (nowMs - site.resyncAtMs < LEVEL_RESYNC_MS) return;
    site.resyncAtMs = nowMs;
    this.sync(substationId);
  }

  close(): void {
    this.closed = true;
    for (const site of this.sites.values()) clearTimeout(site.retry);
    for (const ch of this.chargers.values()) clearTimeout(ch.releasing);
  }

  private sync(substationId: string): void {
    if (this.closed) return;
    const site = this.site(substationId);
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
    try {
      const client = this.grid.site(substationId);
      if (!client) throw new Error(`${substationId}: its address is not known yet`);
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
}

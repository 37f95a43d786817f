import { shareAtLevel, wattsDown } from "@evgrid/policy";
import type { Charger, ChargerTable } from "./chargers.ts";
import type { MeterReading, Tx } from "./model.ts";
import type { Pusher, PushTarget } from "./pusher.ts";
import type { Allowance } from "./site-sums.ts";
import { STRAY_TX, type StrayDraws } from "./stray-draw.ts";
import { HOLD_SOURCE, type StrayHolds } from "./stray-holds.ts";

/**
 * From the substations' water levels to each transaction's limit: a level event re-computes the power of the
 * transactions at that substation only, and hands each to the pusher.
 */
export class Power {
  private readonly levels = new Map<
    string,
    { levelKw: number | null; version: number; floorsKw: Readonly<Record<string, number>> | undefined }
  >();
  private levelSeq = 0;

  constructor(
    private readonly table: ChargerTable,
    private readonly pusher: Pusher,
    /** A charger newly caught drawing more than it accepted: recorded, so a restart does not forget it. */
    private readonly caught: (chargePointId: string) => void = () => {},
    /** Draws on connectors with no transaction (stray-draw.ts). */
    private readonly strays?: StrayDraws,
    /** What each substation is asked to hold for those draws (stray-holds.ts). */
    private readonly holds?: StrayHolds,
  ) {
    this.strays?.watchSilence(this);
  }

  /** A reading on a connector with no open transaction, naming `transactionId` or none (stray-draw.ts). */
  strayReading(ch: Charger, connectorId: number, transactionId: string | undefined, r: MeterReading): void {
    this.strays?.read(this, ch, connectorId, transactionId, r, Date.now());
  }

  /**
   * A reading in an event for a transaction the gateway no longer has (2.0.1 TransactionEvent): judged on its
   * EVSE, or the connector that transaction ended on (a later event need not name its EVSE), if none is open
   * there (stray-draw.ts).
   */
  goneTxReading(ch: Charger, transactionId: string, connectorId: number | undefined, r: MeterReading): void {
    const on = connectorId ?? this.strays?.connectorOf(ch.cp.chargePointId, transactionId);
    if (on !== undefined && on > 0 && !this.table.txOnConnector(ch, on))
      this.strayReading(ch, on, transactionId, r);
  }

  /** A transaction left the books, ended by its charger or by the gateway (stray-draw.ts). */
  closed(tx: Tx): void {
    this.strays?.txEnded(tx.chargePointId, tx.connectorId, tx.transactionId);
    // Held while stopping (holdStopping): its end reported, released soon (stray-holds.ts).
    this.holds?.uncount(tx.chargePointId, tx.connectorId, true);
  }

  /**
   * A reading of a transaction asked to stop: drawing nothing, its hold (holdStopping) comes down soon; over
   * that, it is held (again) if its charger was caught (a review: held for good while it read 0 W).
   */
  stoppingReading(tx: Tx, r: MeterReading): void {
    const ch = this.table.get(tx.chargePointId);
    if (!ch || tx.phase.state !== "stopping" || r.powerW === undefined) return;
    if (this.strays?.isNothing(r)) this.holds?.uncount(tx.chargePointId, tx.connectorId, true);
    else this.holdStopping(ch, tx);
  }

  /** It ended a transaction the gateway no longer has (stray-draw.ts). */
  strayEnded(ch: Charger, transactionId: string): void {
    this.strays?.transactionEnded(this, ch, transactionId);
  }

  /** It says a connector is Available (stray-draw.ts). */
  strayAvailable(ch: Charger, connectorId: number): void {
    this.strays?.available(this, ch, connectorId);
  }

  /** The gateway ended the transaction itself, its charger away (stray-draw.ts). */
  strayClosedByGateway(tx: Tx): void {
    this.strays?.closedByGateway(tx.chargePointId, tx.connectorId, tx.transactionId);
  }

  /** Removed, or trusted again: its stray draws forgotten (stray-draw.ts). */
  forgetStrays(ch: Charger): void {
    this.strays?.forget(this, ch);
  }

  /** A draw on a connector with no transaction: counted at its charge point's maximum (stray-draw.ts). */
  countStray(ch: Charger, connectorId: number): void {
    const { chargePointId, substationId, maxKw } = ch.cp;
    const maxW = wattsDown(maxKw);
    this.pusher.opened({ chargePointId, substationId, connectorId, transactionId: STRAY_TX, maxW });
    this.holds?.count(chargePointId, substationId, connectorId, maxKw);
  }

  /** Caught drawing where it has no transaction: it takes no limits from now, recorded. */
  catchStray(ch: Charger): boolean {
    const newly = this.pusher.ignoresLimits(ch.cp.chargePointId);
    if (newly) this.caught(ch.cp.chargePointId);
    if (newly) for (const tx of ch.txs.values()) this.holdStopping(ch, tx);
    return newly;
  }

  strayDrawing(ch: Charger): void {
    this.holds?.drawing(ch.cp.chargePointId);
  }

  chargerOf(chargePointId: string): Charger | undefined {
    return this.table.get(chargePointId);
  }

  isCaught(ch: Charger): boolean {
    return this.pusher.overdraws(ch.cp.chargePointId);
  }

  strayStopped(ch: Charger, connectorId: number): void {
    this.pusher.forget(ch.cp.chargePointId, connectorId);
    this.holds?.uncount(ch.cp.chargePointId, connectorId);
  }

  /**
   * A substation's new water level: every transaction there gets its share, within the substation's
   * effective capacity (undefined from a substation that does not send it yet: not enforced).
   */
  onLevel(
    substationId: string,
    levelKw: number | null,
    effectiveCapacityKw: number | undefined,
    atMs: number,
    /** Sessions lifted above their minimum by their departure's need (packages/policy needFloors). */
    floorsKw?: Readonly<Record<string, number>>,
    /** What the substation holds for draws no session holds, by source, taken off the capacity. */
    drawHolds?: Readonly<Record<string, number>>,
  ): void {
    // The books count the draws they hold (countStray): their budget is the site's with the gateway's hold
    // given back, never more of it than they count now (not another source's, nor one being released).
    const ownKw = drawHolds === undefined ? undefined : (drawHolds[HOLD_SOURCE] ?? 0);
    const backKw = Math.min(ownKw ?? 0, this.holds?.countedKw(substationId) ?? 0);
    this.pusher.setBudget(substationId, (effectiveCapacityKw ?? Number.POSITIVE_INFINITY) + backKw);
    this.holds?.seen(substationId, ownKw);
    // Counted here, not by the substation's own version (which starts again when it restarts).
    this.levels.set(substationId, { levelKw, version: ++this.levelSeq, floorsKw });
    for (const ch of this.table.atSubstation(substationId)) {
      for (const tx of ch.txs.values()) if (tx.phase.state === "charging") this.push(tx, atMs);
    }
  }

  /** The version of the substation's level now: an admission answer is newer than it, a later level is not. */
  levelVersion(substationId: string): number {
    return this.levels.get(substationId)?.version ?? -1;
  }

  /** The power a transaction's charger should be given now, in kW. */
  powerOf(tx: Tx): number {
    const ch = this.table.get(tx.chargePointId);
    if (!ch || tx.phase.state !== "charging") return 0;
    const { limits, admittedKw, levelVersion } = tx.phase;
    const level = this.levels.get(tx.substationId);
    const kw = limits.pinned
      ? (limits.capKw ?? limits.maxKw) // held at its maximum: its charger takes no limits
      : level && level.version > levelVersion
        ? shareAtLevel(
            {
              minKw: level.floorsKw?.[tx.phase.sessionId] ?? limits.minKw,
              maxKw: limits.capKw ?? limits.maxKw,
              weight: limits.weight,
            },
            level.levelKw,
          )
        : admittedKw;
    return Math.min(kw, ch.cp.maxKw);
  }

  /** Tells the charger its transaction's power now (0 W while waiting); nothing while it is being decided. */
  push(tx: Tx, sinceMs: number): void {
    const ch = this.table.get(tx.chargePointId);
    if (!ch?.link || ch.cp.bootedAt === null) return;
    if (tx.phase.state !== "charging" && tx.phase.state !== "waiting") return;
    // Rounded down: a sum of shares never rounds above the site.
    this.pusher.want(this.targetOf(ch, tx), wattsDown(this.powerOf(tx)), sinceMs);
  }

  /**
   * The grid ended its session and its charger was asked to stop: 0 W until the charger reports the end (a
   * charger that accepts the stop and keeps charging draws nothing, and the site's books count nothing).
   */
  release(tx: Tx): void {
    const ch = this.table.get(tx.chargePointId);
    // Only a transaction still open there (one the charger has ended has no limit left to hold), whether
    // its charger is connected or not: the pusher sends it once it is.
    if (!ch || !this.table.isCurrent(tx) || this.pusher.heldW(ch.cp.chargePointId, tx.connectorId) === null)
      return;
    this.pusher.want(this.targetOf(ch, tx), 0, Date.now(), true);
    this.holdStopping(ch, tx);
  }

  /**
   * Its session ended and it was asked to stop (0 W), but its charger takes no limits since it was caught, or
   * its meter shows it drawing on: no session holds that power any more, and the books count it at the
   * charge point's maximum until it reports the end. Held at its substation as long (stray-holds.ts; a
   * charger probe: a new car there was given 22 kW the books never let out, and got nothing).
   */
  private holdStopping(ch: Charger, tx: Tx): void {
    // Not for a transaction left at a substation its charger has moved from: holds go by charge point, at
    // its substation now (a review: counted there, it would drop what is held at the new one).
    if (tx.substationId !== ch.cp.substationId) return;
    if (tx.phase.state === "stopping" && this.pusher.overdraws(ch.cp.chargePointId))
      this.holds?.count(ch.cp.chargePointId, tx.substationId, tx.connectorId, ch.cp.maxKw);
  }

  private targetOf(ch: Charger, tx: Tx): PushTarget {
    return {
      chargePointId: tx.chargePointId,
      substationId: tx.substationId,
      connectorId: tx.connectorId,
      transactionId: tx.transactionId,
      maxW: wattsDown(ch.cp.maxKw),
    };
  }

  /** A transaction opened: the pusher counts it from now (in place of a draw counted there without one). */
  opened(tx: Tx): void {
    const ch = this.table.get(tx.chargePointId);
    this.strays?.opened(tx.chargePointId, tx.connectorId);
    this.holds?.uncount(tx.chargePointId, tx.connectorId);
    if (ch) this.pusher.opened(this.targetOf(ch, tx));
  }

  /** The charger booted or came back: its default first (resolves once answered, or after `waitMs`). */
  online(ch: Charger, waitMs = 0): Promise<void> {
    return this.pusher.online(ch.cp.chargePointId, ch.cp.substationId, waitMs);
  }

  isManaged(ch: Charger): boolean {
    return this.pusher.isManaged(ch.cp.chargePointId);
  }

  /** What the transaction's meter is checked against (site-books.ts); null if it is not in the books. */
  allowance(tx: Tx, nowMs: number): Allowance | null {
    return this.pusher.allowance(tx.chargePointId, tx.connectorId, nowMs);
  }

  /** Its charger's meter shows it ignores its limits: counted at its maximum from now (false: known already). */
  ignoresLimits(tx: Tx): boolean {
    const newly = this.pusher.ignoresLimits(tx.chargePointId);
    const ch = this.table.get(tx.chargePointId);
    // Asked to stop, it draws on; caught now, any of its transactions asked to stop may (a probe: one caught
    // on another connector was not held).
    if (ch) for (const t of newly ? ch.txs.values() : [tx]) this.holdStopping(ch, t);
    if (newly) this.caught(tx.chargePointId);
    return newly;
  }

  refusesLimits(ch: Charger): boolean {
    return this.pusher.refusesLimits(ch.cp.chargePointId);
  }

  close(): void {
    this.strays?.close();
    this.holds?.close();
  }
}

import { errorDataOf, type Session, walkInVehicleId } from "@evgrid/contract";
import { Backoff, type BackoffOptions, type Logger, retry } from "@evgrid/kit";
import { describeFailure } from "@evgrid/link";
import { PRIORITY_WEIGHT } from "@evgrid/policy";
import { findBooking } from "./booking-lookup.ts";
import type { Charger, ChargerTable } from "./chargers.ts";
import type { ChargePointShares } from "./cp-shares.ts";
import { type Ends, TURNED_AWAY } from "./ends.ts";
import type { Grid } from "./grid.ts";
import type { Tx } from "./model.ts";
import type { Moves } from "./moves.ts";
import type { Power } from "./power.ts";
import type { Registry } from "./registry.ts";
import type { StopOutbox } from "./stop-outbox.ts";
import {
  type Claim,
  claimedAs,
  NEVER_REASONS,
  ownWalkIn,
  WAIT_REASONS,
  type WalkIn,
  type WalkInAs,
  walkInRequest,
} from "./walk-in.ts";

export interface BinderSettings {
  walkInMaxS: number;
  walkInMinKw: number;
}

const MAX_WAIT_S = 300;
/** Calls to the grid that failed are tried again from half a second, at most every 10 s. */
const RETRY: BackoffOptions = { delayMs: 500, maxDelayMs: 10_000 };
type Step = "done" | "again" | "backoff" | { as: string }; // what one admission try leaves to do

/**
 * Binds transactions to grid sessions, and owns their phase from `binding` to `charging`: the booking its
 * idTag claims becomes its transaction's; otherwise it is admitted as a walk-in, waiting at 0 W while the
 * grid is full; after a gateway restart its session is read back (`resuming`).
 */
export class Binder {
  /** Aborted when the gateway stops: the settling of abandoned admissions gives up. */
  private readonly closing = new AbortController();

  constructor(
    private readonly table: ChargerTable,
    private readonly grid: Grid,
    private readonly registry: Registry,
    private readonly power: Power,
    private readonly shares: ChargePointShares,
    private readonly ends: Ends,
    private readonly outbox: StopOutbox,
    private readonly moves: Moves,
    private readonly cfg: BinderSettings,
    private readonly log: Logger,
  ) {}

  /**
   * The idTag is a booking's (its owner was told it): that session at this substation becomes this
   * transaction's; booked elsewhere, it is released there and the booked vehicle admitted here as a walk-in
   * that goes on with the booking (its owner's, with what it has left).
   * Any other idTag is a walk-in of its own (`ocpp:<idTag>`): a vehicle id claims nobody's booking.
   */
  async bind(tx: Tx): Promise<void> {
    const idTag = tx.vehicleId;
    if (!idTag) return;
    const backoff = new Backoff(RETRY);
    while (this.table.isCurrent(tx)) {
      try {
        const found = await findBooking(this.grid, idTag);
        // Claimed already by another transaction (the same tag in other letter case): one per idTag.
        if (found && this.table.txOfSession(found.sessionId)) return this.ends.gridEnded(tx);
        if (found && found.substationId === tx.substationId) {
          const ch = this.table.get(tx.chargePointId);
          const release = await this.shares.turns.take(tx.chargePointId, tx.life.signal);
          if (!release) return;
          try {
            const demand = { minKw: found.minKw, maxKw: found.maxKw };
            if (ch && (await this.shares.makeRoom(ch, tx, demand)) === null)
              return void this.ends.turnAway(tx, TURNED_AWAY.cannotFit);
            return this.attach(tx, found, found.allocatedKw, -1);
          } finally {
            release();
          }
        }
        if (found) return await this.goOn(tx, claimedAs(found, this.cfg.walkInMaxS, Date.now()));
        return await this.admit(tx, ownWalkIn(idTag, this.cfg.walkInMaxS));
      } catch (err) {
        this.log.warn("cannot look the idTag up yet; retrying", { error: describeFailure(err) });
        if (!(await backoff.wait(tx.life.signal))) return;
      }
    }
  }

  /**
   * A booking claimed at another substation's charger goes on here: released there (moves.ts), then admitted;
   * after a gateway restart, the claim it recorded goes on the same way. Ended otherwise: a walk-in.
   */
  async goOn(tx: Tx, claim: Claim): Promise<void> {
    const released = await this.moves.release(tx, claim, RETRY);
    if (released === "moved") await this.admit(tx, claim);
    else if (released === "not-moved" && tx.vehicleId)
      await this.admit(tx, ownWalkIn(tx.vehicleId, this.cfg.walkInMaxS));
  }

  /** A 2.0.1 charger said who its unidentified transaction is for. */
  identify(tx: Tx, vehicleId: string): void {
    if (tx.phase.state !== "unidentified") return;
    this.table.identify(tx, vehicleId);
    tx.phase = { state: "binding" };
    this.registry.bind(tx.chargePointId, tx.transactionId, vehicleId, null);
    void this.bind(tx);
  }

  /** After a gateway restart: the session is read back from its substation once it can be reached. */
  resume(tx: Tx, sessionId: string): void {
    tx.phase = { state: "resuming", sessionId };
    this.table.bindSession(sessionId, tx);
    void (async () => {
      const backoff = new Backoff({ ...RETRY, delayMs: 250 });
      while (this.table.isCurrent(tx) && tx.phase.state === "resuming") {
        const site = this.grid.site(tx.substationId);
        try {
          if (site) {
            const s = await site.getSession.query({ sessionId });
            if (tx.phase.state !== "resuming") return;
            if (s.status === "ended") return this.ends.gridEnded(tx);
            return this.attach(tx, s, s.allocatedKw, -1);
          }
        } catch (err) {
          if (errorDataOf(err)?.reason === "SESSION_NOT_FOUND") return this.ends.gridEnded(tx);
        }
        if (!(await backoff.wait(tx.life.signal))) return;
      }
    })();
  }

  close(): void {
    this.closing.abort();
  }

  /**
   * A walk-in: admitted at the charger's own substation, waiting (0 W) while the grid is full. Each try takes
   * the charge point's turn: its share is planned, admitted and bound before another transaction's is.
   */
  private async admit(tx: Tx, first: WalkInAs): Promise<void> {
    const backoff = new Backoff(RETRY);
    let as = first;
    while (this.table.isCurrent(tx)) {
      const release = await this.shares.turns.take(tx.chargePointId, tx.life.signal);
      if (!release) return;
      let next: Step;
      try {
        next = await this.tryAdmit(tx, as, backoff);
      } finally {
        release();
      }
      if (next === "done") return;
      if (next === "backoff" && !(await backoff.wait(tx.life.signal))) return;
      // Still the claimed booking's owner's, if it was one: the holder showed the booking's idTag.
      if (typeof next === "object")
        as = { ...as, vehicleId: next.as, end: { durationS: this.cfg.walkInMaxS } };
    }
  }

  /** One admission try: bound or settled (done), again now, again after a back-off, or again as a walk-in. */
  private async tryAdmit(tx: Tx, as: WalkInAs, backoff: Backoff): Promise<Step> {
    const { vehicleId } = as;
    const ch = this.table.get(tx.chargePointId);
    if (!ch) return "done";
    const maxKw = ch.cp.maxKw;
    const waitS = tx.phase.state === "waiting" ? MAX_WAIT_S : undefined;
    // Its share of the charge point, made before it is admitted and admitted capped at it.
    const shareKw = await this.shares.makeRoom(ch, tx);
    if (shareKw === null) {
      this.ends.turnAway(tx, TURNED_AWAY.cannotFit);
      return "done";
    }
    if (!this.table.isCurrent(tx)) return "done";
    const levelVersion = this.power.levelVersion(tx.substationId);
    const request = walkInRequest(tx, as, { maxKw, shareKw, minKw: this.cfg.walkInMinKw }, waitS);
    let session: Session;
    try {
      ({ session } = await this.grid.balancers.call(
        (b) =>
          b.dispatch.mutate(request, {
            context: { timeoutMs: (waitS ?? 5) * 1000 + 10_000, signal: tx.life.signal },
          }),
        // It carries its idempotency key: an answer lost with a replica may be asked of another.
        { retryUncertain: true },
      ));
    } catch (err) {
      // Settled in its turn: a session it may have made is gone before the next is planned.
      if (tx.life.signal.aborted) {
        await this.settleAbandoned(request);
        return "done";
      }
      const reason = errorDataOf(err)?.reason;
      if (reason !== undefined && WAIT_REASONS.has(reason)) {
        backoff.reset();
        return this.waitAtZero(tx, ch, vehicleId);
      }
      if (reason === "VEHICLE_ALREADY_CHARGING") {
        // A claimed booking's vehicle booked again meanwhile: the holder charges as a walk-in instead.
        const own = walkInVehicleId(tx.vehicleId ?? "");
        if (vehicleId !== own) return { as: own };
        this.log.warn("idTag is charging elsewhere in the grid; stopping this transaction", {
          chargePointId: tx.chargePointId,
          transactionId: tx.transactionId,
        });
        this.ends.gridEnded(tx);
        return "done";
      }
      if (reason !== undefined && NEVER_REASONS.has(reason)) {
        this.log.warn("walk-in can never be admitted here; stopping it", { vehicleId, reason });
        this.ends.gridEnded(tx);
        return "done";
      }
      this.log.warn("walk-in admission failed; retrying", { vehicleId, error: describeFailure(err) });
      return "backoff";
    }
    if (this.table.isCurrent(tx)) this.attach(tx, session, session.allocatedKw, levelVersion);
    else await this.release(session.sessionId); // ended meanwhile
    return "done";
  }

  /**
   * The transaction ended while its admission was on its way: the grid may have admitted it anyway (the
   * hang-up arriving after the substation said yes). The same dispatch again, without waiting, under its
   * idempotency key, joins the one still in flight or replays its answer: a session it names is stopped. An
   * answered refusal means no session was made.
   */
  private async settleAbandoned(request: WalkIn): Promise<void> {
    const { waitS: _waitS, ...again } = request;
    const settled = await retry(
      () => this.grid.balancers.call((b) => b.dispatch.mutate(again), { retryUncertain: true }),
      {
        ...RETRY,
        maxAttempts: 5,
        signal: this.closing.signal,
        // An answered refusal: no session was made, nothing to settle.
        retryIf: (err) => errorDataOf(err)?.reason === undefined,
        onRetry: (err) =>
          this.log.warn("could not settle an admission whose transaction ended; retrying", {
            vehicleId: request.vehicleId,
            error: describeFailure(err),
          }),
      },
    ).catch(() => null);
    if (settled) await this.release(settled.session.sessionId);
  }

  /** A session admitted for a transaction that has ended: its power goes back (unless a new one took it). */
  private async release(sessionId: string): Promise<void> {
    if (this.table.txOfSession(sessionId)) return;
    await this.outbox.stop({ sessionId, reason: "stopped" }, (queued) => {
      if (queued) this.registry.queueStop(queued);
    });
  }

  private attach(tx: Tx, s: Session, admittedKw: number, levelVersion: number): void {
    const ch = this.table.get(tx.chargePointId);
    if (!ch || !this.table.isCurrent(tx) || tx.phase.state === "stopping") return;
    const limits = { minKw: s.minKw, maxKw: s.maxKw, capKw: s.capKw, weight: PRIORITY_WEIGHT[s.priority] };
    tx.phase = {
      state: "charging",
      sessionId: s.sessionId,
      limits,
      admittedKw,
      levelVersion,
      chargePointKw: null,
      reclaimKw: null,
      energyKwh: s.energyKwh,
    };
    this.table.bindSession(s.sessionId, tx);
    this.registry.bind(tx.chargePointId, tx.transactionId, tx.vehicleId, s.sessionId);
    this.log.info("transaction bound to session", {
      transactionId: tx.transactionId,
      sessionId: s.sessionId,
    });
    // An energy session ends when its meter says so: bounded in time all the same.
    if (s.durationS === null) this.ends.endBy(tx, Date.parse(s.startedAt) + this.cfg.walkInMaxS * 1000);
    // Its share of the charge point (a booked session may ask more than this charger can give).
    void this.shares.rebalance(ch);
    this.power.push(tx, Date.now());
  }

  /** Grid full: it waits at 0 W, unless its charger takes no limits (TURNED_AWAY.cannotWait). */
  private waitAtZero(tx: Tx, ch: Charger, vehicleId: string): Step {
    if (this.power.refusesLimits(ch)) return this.ends.turnAway(tx, TURNED_AWAY.cannotWait);
    if (tx.phase.state !== "waiting") {
      tx.phase = { state: "waiting" };
      this.log.info("grid full: the transaction waits for power at 0 W", { vehicleId });
      this.power.push(tx, Date.now());
    }
    return "again";
  }
}

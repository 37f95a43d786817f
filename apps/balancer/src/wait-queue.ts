import { type DispatchRequest, OPERATOR, reasons } from "@evgrid/contract";
import { deadlineExceeded, GridError, type Scheduler, systemScheduler } from "@evgrid/kit";
import { DeadlinePassed } from "@evgrid/link";
import { byClassThenArrival } from "@evgrid/policy";
import type { DispatchResult, WaitOrder } from "./types.ts";

/**
 * A waiter's place in the order every replica shares: none (no shared order, or the store was down when it
 * arrived: this replica's order only, until the store is back), asked for, or held.
 */
type Place = { kind: "local" } | { kind: "pending" } | { kind: "ticketed"; ticket: number };

interface Waiter {
  req: DispatchRequest;
  /** Arrival order here; with the request's priority class, the order freed power is offered in. */
  seq: number;
  priority: DispatchRequest["priority"];
  place: Place;
  /** When its wait ends (wall clock), as the shared order records it. */
  untilMs: number;
  resolve: (r: DispatchResult) => void;
  reject: (err: unknown) => void;
  timer: { cancel(): void };
  /** Being dispatched now: its outcome settles it, not its timer (no session may be left unknown). */
  inFlight: boolean;
  expired: boolean;
  /** The caller hung up (or gave up) while its dispatch was in flight: a session it got must be stopped. */
  abandoned: boolean;
  /** What let it go (its call's signal), read once it is abandoned. */
  signal?: AbortSignal | undefined;
  /** When its caller gives up (epoch ms; null: none sent): its dispatch ends by then. */
  deadlineAtMs: number | null;
  /** Answered and out of the queue. */
  done: boolean;
}

export interface WaitQueueOptions {
  hasRoomFor: (req: DispatchRequest) => boolean;
  /** `deadlineAtMs`: the waiter's caller's deadline (epoch ms), or null. */
  dispatch: (req: DispatchRequest, deadlineAtMs: number | null) => Promise<DispatchResult>;
  /** Ends a session admitted for a caller that is no longer there to be told. */
  abandon: (result: DispatchResult) => void;
  /** Waiters across all callers. */
  maxWaiting: number;
  /** Waiters of one caller (operators are not limited). */
  maxPerOwner: number;
  /** Runs a waiter's expiry after its wait (tests drive it by hand). */
  scheduler?: Scheduler;
  /** The wall clock a departure is read on (epoch ms; tests move it with their scheduler). */
  wallNow?: () => number;
  /** The first-come-first-served order shared with other balancer replicas, if any. */
  order?: WaitOrder;
}

/** How long a refused waiter is told to wait before asking again. */
const QUEUE_FULL_RETRY_S = 5;

/**
 * Requests that said they would wait for capacity (`waitS`), in arrival order across the grid. `pump` is
 * called whenever power may have freed up (after each load refresh, after a stop) and dispatches, oldest
 * first, every waiter the view shows room for: a waiter that cannot fit yet (a big minimum) does not hold up
 * later ones that can. Waiting costs no calls while the grid is full, and the queue is bounded, globally and
 * per caller, so a flood of waiters is refused at once instead of piling up.
 */
export class WaitQueue {
  private readonly waiters: Waiter[] = [];
  private arrivals = 0;
  private readonly perOwner = new Map<string, number>();
  private pumping = false;
  private pumpAgain = false;
  private pumped = 0;

  constructor(private readonly opts: WaitQueueOptions) {}

  get length(): number {
    return this.waiters.length;
  }

  /** Pumps done: a waiter still waiting after the next one was passed over, not merely not reached yet. */
  get pumps(): number {
    return this.pumped;
  }

  wait(
    req: DispatchRequest,
    signal?: AbortSignal,
    deadlineAtMs: number | null = null,
  ): Promise<DispatchResult> {
    if (this.waiters.length >= this.opts.maxWaiting) {
      return Promise.reject(
        new GridError(
          "TOO_MANY_REQUESTS",
          reasons.WAIT_QUEUE_FULL,
          `${this.waiters.length} requests are already waiting for capacity; try again later`,
          { retryAfterS: QUEUE_FULL_RETRY_S },
        ),
      );
    }
    const mine = this.perOwner.get(req.owner) ?? 0;
    if (req.owner !== OPERATOR && mine >= this.opts.maxPerOwner) {
      return Promise.reject(
        new GridError(
          "TOO_MANY_REQUESTS",
          reasons.QUOTA_EXCEEDED,
          `you already have ${mine} requests waiting for capacity (at most ${this.opts.maxPerOwner})`,
          { quota: "waiting", limit: this.opts.maxPerOwner, retryAfterS: QUEUE_FULL_RETRY_S },
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(callerGone(signal));
    // A vehicle waits no longer than until it leaves, whatever its caller asked.
    const nowMs = this.wallNow();
    const untilMs = Math.min(nowMs + (req.waitS ?? 0) * 1000, departureMs(req));
    return new Promise<DispatchResult>((resolve, reject) => {
      const waiter: Waiter = {
        req,
        seq: this.arrivals++,
        priority: req.priority,
        place: { kind: "local" },
        untilMs,
        resolve,
        reject,
        inFlight: false,
        expired: false,
        abandoned: false,
        signal,
        deadlineAtMs,
        done: false,
        timer: (this.opts.scheduler ?? systemScheduler).schedule(() => {
          waiter.expired = true;
          if (waiter.inFlight) return;
          this.settle(waiter, () => reject(waitRanOut(req, untilMs)));
        }, untilMs - nowMs),
      };
      // A caller that hangs up leaves the queue at once; one whose dispatch is under way is let go after it.
      signal?.addEventListener(
        "abort",
        () => {
          if (waiter.inFlight) waiter.abandoned = true;
          else this.settle(waiter, () => reject(callerGone(signal)));
        },
        { once: true },
      );
      this.waiters.push(waiter);
      this.perOwner.set(req.owner, mine + 1);
      // Its place among every replica's waiters, then a first chance.
      if (this.opts.order) this.enter(waiter, this.opts.order);
      else void this.pump();
    });
  }

  /** Asks the shared order for a ticket, then pumps: with one, or (store down) in this replica's order. */
  private enter(waiter: Waiter, order: WaitOrder): void {
    waiter.place = { kind: "pending" };
    void order.enter(waiter.req, waiter.untilMs).then((ticket) => {
      if (waiter.done) {
        if (ticket !== null) order.leave(ticket);
        return;
      }
      waiter.place = ticket === null ? { kind: "local" } : { kind: "ticketed", ticket };
      void this.pump();
    });
  }

  // biome-ignore lint/complexity/noExcessiveCognitiveComplexity: the queue's pass (dispatch store issue)
  async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        // Called at every load refresh: with nobody waiting here, nothing to read from the shared store.
        if (this.waiters.length === 0) break;
        // Other replicas' waiters, when the order is shared: an earlier one that fits goes first.
        // (Without one, nothing is awaited here: a pump serves at once, as a single replica always has.)
        const order = this.opts.order;
        const others = order
          ? (await order.snapshot())?.filter((w) => w.replica !== order.replica)
          : undefined;
        // Higher priority classes first, then first come, first served (packages/policy).
        for (const waiter of [...this.waiters].sort(byClassThenArrival)) {
          if (waiter.inFlight || waiter.done) continue;
          if (waiter.place.kind === "pending") continue; // its ticket is on its way; then it pumps again
          if (waiter.place.kind === "local" && order && others) {
            // It arrived while the store was down: it takes its place in the shared order now.
            this.enter(waiter, order);
            continue;
          }
          if (!this.opts.hasRoomFor(waiter.req)) continue;
          const ticket = waiter.place.kind === "ticketed" ? waiter.place.ticket : null;
          // Someone before this one in the order every replica shares (a higher class, or the same one and
          // an earlier ticket) whom the freed power would fit goes first.
          const earlierFits =
            ticket !== null &&
            others?.some(
              (w) =>
                byClassThenArrival(
                  { priority: w.priority, seq: w.ticket },
                  { priority: waiter.priority, seq: ticket },
                ) < 0 &&
                this.opts.hasRoomFor({
                  ...waiter.req,
                  minKw: w.minKw,
                  maxKw: w.maxKw,
                  substationId: w.substationId,
                }),
            );
          if (earlierFits) continue; // theirs first; their replica serves it on its next pump
          await this.serve(waiter);
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
      this.pumped += 1;
    }
  }

  private async serve(waiter: Waiter): Promise<void> {
    waiter.inFlight = true;
    try {
      const result = await this.opts.dispatch(waiter.req, waiter.deadlineAtMs);
      if (waiter.abandoned) {
        this.opts.abandon(result);
        this.settle(waiter, () => waiter.reject(callerGone(waiter.signal)));
      } else {
        this.settle(waiter, () => waiter.resolve(result));
      }
    } catch (err) {
      if (keepsWaiting(err) && !waiter.expired && !waiter.abandoned) {
        // The view was optimistic (or the store is being rebuilt): keep the place, wait for the next chance.
        waiter.inFlight = false;
        return;
      }
      // Its vehicle left while the dispatch was under way: the substation refuses the departure, which
      // passed every check here, as gone by (by its clock, which may run ahead of this one).
      const left = err instanceof GridError && err.code === "BAD_REQUEST" && err.fieldErrors?.departAt;
      const answer = left ? waitRanOut(waiter.req, departureMs(waiter.req)) : err;
      this.settle(waiter, () => waiter.reject(waiter.abandoned ? callerGone(waiter.signal) : answer));
    }
  }

  private wallNow(): number {
    return (this.opts.wallNow ?? Date.now)();
  }

  private settle(waiter: Waiter, finish: () => void): void {
    if (waiter.done) return;
    waiter.done = true;
    waiter.timer.cancel();
    if (waiter.place.kind === "ticketed") this.opts.order?.leave(waiter.place.ticket);
    this.waiters.splice(this.waiters.indexOf(waiter), 1);
    const left = (this.perOwner.get(waiter.req.owner) ?? 1) - 1;
    if (left > 0) this.perOwner.set(waiter.req.owner, left);
    else this.perOwner.delete(waiter.req.owner);
    finish();
  }
}

/** When a request's vehicle leaves (epoch ms), or never. */
const departureMs = (req: DispatchRequest): number =>
  "departAt" in req && req.departAt !== undefined ? Date.parse(req.departAt) : Number.POSITIVE_INFINITY;

/** A waiter's wait ran out (at `untilMs`): its own, or its vehicle's departure, whichever came first. */
function waitRanOut(req: DispatchRequest, untilMs: number): GridError {
  const byDeparture = untilMs >= departureMs(req);
  return new GridError(
    "TOO_MANY_REQUESTS",
    reasons.GRID_FULL,
    byDeparture
      ? "grid full: no substation freed up power for this vehicle's minimum before its departure"
      : `grid full: no substation freed up power for this vehicle's minimum within ${req.waitS} s`,
    byDeparture && "departAt" in req ? { departAt: req.departAt } : { waitedS: req.waitS },
  );
}

/** "No room now": the one failure a request that said it would wait keeps waiting after. */
export function isGridFull(err: unknown): boolean {
  return err instanceof GridError && err.reason === reasons.GRID_FULL;
}

/** Refusals that say "not yet": a waiter keeps its place after them (and a new one takes its place). */
export function keepsWaiting(err: unknown): boolean {
  return isGridFull(err) || (err instanceof GridError && err.reason === reasons.STATE_REBUILDING);
}

/**
 * A waiter let go by its call: past its deadline, an answer its caller may still read (it is what the
 * caller's own deadline would tell it); hung up, nobody reads it, it only settles the promise.
 */
function callerGone(signal?: AbortSignal): GridError {
  if (signal?.reason instanceof DeadlinePassed)
    return deadlineExceeded("the request's deadline passed while it waited for capacity");
  return new GridError("CLIENT_CLOSED_REQUEST", reasons.CALLER_GONE, "the caller stopped waiting");
}

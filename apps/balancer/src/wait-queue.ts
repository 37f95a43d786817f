import { type ChargeRequest, type DispatchResult, reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";

interface Waiter {
  req: ChargeRequest;
  resolve: (r: DispatchResult) => void;
  reject: (err: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Being dispatched now: its outcome settles it, not its timer (no session may be left unknown). */
  inFlight: boolean;
  expired: boolean;
}

/**
 * Requests that said they would wait for capacity (`waitS`), first come first served across the grid.
 * `pump` is called whenever power may have freed up (after each load refresh, after a stop); the head is
 * dispatched only when the view shows room for it, so waiting costs no calls while the grid is full.
 */
export class WaitQueue {
  private readonly waiters: Waiter[] = [];
  private pumping = false;

  constructor(
    private readonly hasRoomFor: (req: ChargeRequest) => boolean,
    private readonly dispatch: (req: ChargeRequest) => Promise<DispatchResult>,
  ) {}

  get length(): number {
    return this.waiters.length;
  }

  wait(req: ChargeRequest): Promise<DispatchResult> {
    const waitMs = (req.waitS ?? 0) * 1000;
    return new Promise<DispatchResult>((resolve, reject) => {
      const waiter: Waiter = {
        req,
        resolve,
        reject,
        inFlight: false,
        expired: false,
        timer: setTimeout(() => {
          waiter.expired = true;
          if (waiter.inFlight) return;
          this.remove(waiter);
          reject(
            new GridError(
              "TOO_MANY_REQUESTS",
              reasons.GRID_FULL,
              `grid full: no substation freed up power for this vehicle's minimum within ${req.waitS} s`,
              { waitedS: req.waitS },
            ),
          );
        }, waitMs),
      };
      this.waiters.push(waiter);
      void this.pump();
    });
  }

  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let head = this.waiters[0]; head && this.hasRoomFor(head.req); head = this.waiters[0]) {
        head.inFlight = true;
        try {
          const result = await this.dispatch(head.req);
          this.settle(head, () => head.resolve(result));
        } catch (err) {
          if (err instanceof GridError && err.reason === reasons.GRID_FULL && !head.expired) {
            // The view was optimistic: keep the place in the queue and wait for the next chance.
            head.inFlight = false;
            break;
          }
          this.settle(head, () => head.reject(err));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private settle(waiter: Waiter, finish: () => void): void {
    clearTimeout(waiter.timer);
    this.remove(waiter);
    finish();
  }

  private remove(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}

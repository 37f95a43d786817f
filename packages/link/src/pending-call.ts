import type { Pending } from "./client-types.ts";
import { aborted, lateCall, timedOut } from "./link-failures.ts";
import type { QueuedCall } from "./queued-call.ts";

/**
 * One call waiting for its answer on a link: a single record whose methods are shared, instead of a promise
 * executor and four closures per call. Only a call that can be aborted (its caller gave a signal) gets an
 * abort listener, bound when it is sent.
 */
export class PendingCall implements Pending {
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Its message, until it leaves at the end of the turn: timed out before that, it certainly did not run. */
  queued: QueuedCall | undefined;
  private onAbort: (() => void) | null = null;

  constructor(
    private readonly pending: Map<number, Pending>,
    private readonly id: number,
    private readonly settle: (data: unknown) => void,
    private readonly fail: (err: Error) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Waits for the answer until `timeoutMs` passes, or (with a signal) until the caller gives up. */
  wait(timeoutMs: number, stop: (id: number) => void): void {
    this.pending.set(this.id, this);
    this.timer = setTimeout(timeOut, timeoutMs, this);
    if (this.signal) {
      this.onAbort = () => {
        this.finish();
        // Not sent yet (aborted in the turn it was made): it never leaves, and there is nothing to stop.
        if (this.queued?.state === "queued") this.queued.state = "gone";
        // tRPC's protocol cancels with subscription.stop; our server aborts the call's signal for any call
        // (a waiting dispatch whose caller hung up leaves the queue). A stock tRPC server ignores it.
        else stop(this.id);
        this.fail(aborted());
      };
      this.signal.addEventListener("abort", this.onAbort, { once: true });
    }
  }

  resolve(data: unknown): void {
    this.finish();
    this.settle(data);
  }

  reject(err: Error): void {
    this.finish();
    this.fail(err);
  }

  private finish(): void {
    clearTimeout(this.timer);
    this.pending.delete(this.id);
    if (this.onAbort) this.signal?.removeEventListener("abort", this.onAbort);
  }
}

function timeOut(call: PendingCall): void {
  const q = call.queued;
  if (q?.state === "queued") {
    // A stalled sender's call whose deadline passed before the end of its turn: it never leaves.
    q.state = "gone";
    call.reject(lateCall(q.path));
  } else call.reject(timedOut());
}

import { DeadlinePassed } from "./deadline.ts";
import type { CallSignal } from "./procedures.ts";

/**
 * One call running on a link. Most procedures never read their abort signal, so the AbortController (and
 * the deadline's timer that would fire it) is made only when the signal is first read; until then an abort
 * (the link dropped, the caller stopped it) is remembered, and a signal read afterwards starts aborted. The
 * signal's reason tells a deadline (DeadlinePassed) from a caller that went away.
 */
export class RunningCall implements CallSignal {
  private controller: AbortController | null = null;
  private aborted = false;
  private reason: unknown;
  private finished = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `deadlineAtMs`: past it the call is let go as one whose caller hung up (null: no deadline). */
  constructor(private readonly deadlineAtMs: number | null) {}

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
      else if (this.deadlineAtMs !== null && !this.finished) {
        this.timer = setTimeout(
          () => this.abort(new DeadlinePassed()),
          Math.max(0, this.deadlineAtMs - Date.now()),
        );
      }
    }
    return this.controller.signal;
  }

  /** `reason`: a DeadlinePassed when the deadline let it go; none when its caller or the link did. */
  abort(reason?: unknown): void {
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  /** The call answered: its deadline no longer matters. */
  finish(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

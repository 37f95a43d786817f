/** Something that runs `run` once after `ms`, and can be told not to. Injected where tests drive time. */
export type Scheduler = (run: () => void, ms: number) => { cancel(): void };

/** The real one: a timer. */
export const timerScheduler: Scheduler = (run, ms) => {
  const timer = setTimeout(run, ms);
  return { cancel: () => clearTimeout(timer) };
};

/**
 * A scheduler for tests: nothing runs until `advance(ms)` moves its clock, then everything due runs in
 * order of its time. `now()` is its clock.
 */
export function manualScheduler(startMs = 0) {
  let nowMs = startMs;
  let seq = 0;
  const due: { atMs: number; seq: number; run: () => void; cancelled: boolean }[] = [];
  const schedule: Scheduler = (run, ms) => {
    const task = { atMs: nowMs + Math.max(0, ms), seq: seq++, run, cancelled: false };
    due.push(task);
    return {
      cancel: () => {
        task.cancelled = true;
      },
    };
  };
  return {
    schedule,
    now: () => nowMs,
    /** Tasks waiting to run. */
    get pending() {
      return due.filter((t) => !t.cancelled).length;
    },
    advance(ms: number): void {
      const until = nowMs + ms;
      for (;;) {
        due.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
        const next = due.find((t) => !t.cancelled && t.atMs <= until);
        if (!next) break;
        due.splice(due.indexOf(next), 1);
        nowMs = next.atMs;
        next.run();
      }
      nowMs = until;
    },
  };
}

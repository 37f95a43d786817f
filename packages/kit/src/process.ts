/** A repeat within this window is an echo (Ctrl-C reaches the whole process group, and `bun run` forwards it too). */
export const SIGNAL_ECHO_MS = 1000;

/**
 * Runs `cleanup` once on SIGINT or SIGTERM, then exits 0. A second signal a while later (an impatient
 * Ctrl-C) exits at once, so a process never hangs.
 */
export function onShutdown(
  cleanup: () => Promise<void> | void,
  opts: { parentPid?: number | undefined; timeoutMs?: number } = {},
): void {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let stoppingSince = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince > 0) {
      if (Date.now() - stoppingSince > SIGNAL_ECHO_MS) process.exit(130);
      return;
    }
    stoppingSince = Date.now();
    const force = setTimeout(() => {
      console.error(`shutdown after ${signal} took over ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    Promise.resolve()
      .then(cleanup)
      .then(
        () => {
          clearTimeout(force);
          process.exit(0);
        },
        (err: unknown) => {
          console.error("shutdown failed:", err);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  if (opts.parentPid !== undefined) watchParent(opts.parentPid, () => handler("SIGTERM"));
}

/** Polls the parent: signal 0 checks existence without touching it. */
function watchParent(pid: number, onGone: () => void): void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      clearInterval(timer);
      console.error(`parent process ${pid} is gone; shutting down`);
      onGone();
    }
  }, 1000);
  timer.unref();
}

/** Runs an app's start-up; a failure (port taken, ...) prints one line instead of a stack trace and exits 1. */
export async function runMain(service: string, start: () => Promise<void> | void): Promise<void> {
  try {
    await start();
  } catch (err) {
    console.error(`${service}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

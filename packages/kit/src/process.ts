/**
 * Runs `cleanup` once on SIGINT or SIGTERM, then exits 0. A second signal while cleaning up exits at once,
 * so an impatient Ctrl-C never leaves a process hanging.
 */
export function onShutdown(cleanup: () => Promise<void> | void, timeoutMs = 5000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
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
}

import { readFileSync } from "node:fs";

/** A repeat within this window is an echo (Ctrl-C reaches the whole process group, and `bun run` forwards it too). */
export const SIGNAL_ECHO_MS = 1000;

export interface ShutdownOptions {
  /** Exit when this process is gone (set by `bun run dev`), so a killed runner leaves no orphans. */
  parentPid?: number | undefined;
  /** Cleanup must be done by then, or the process exits 1 anyway. */
  timeoutMs?: number;
  /** A second signal (not an echo of the first) means "now": runs this, then exits 130. */
  onForce?: () => void;
  /** The exit status once a signal's cleanup is done: 0 (the default) for a server asked to stop. */
  signalExitCode?: number;
  /**
   * SIGHUP (its terminal closed) too, as SIGTERM: for a command that owns files to remove, and an app whose
   * stop closes its journal. Not when it was started with SIGHUP ignored (`nohup`): it was asked to outlive
   * its terminal.
   */
  hangup?: boolean;
}

/**
 * Runs `cleanup` once on SIGINT or SIGTERM (and SIGHUP, with `hangup`), then exits 0. A second signal a while later (an impatient
 * Ctrl-C) exits at once, so a process never hangs. Returns the same shutdown to call from code, with the
 * exit status to end with (a supervised child died, start-up failed).
 */
export function onShutdown(
  cleanup: () => Promise<void> | void,
  opts: ShutdownOptions = {},
): (exitCode?: number) => void {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let stoppingSince = 0;
  const shutdown = (exitCode = 0, why = "shutdown") => {
    if (stoppingSince > 0) {
      if (Date.now() - stoppingSince > SIGNAL_ECHO_MS) {
        opts.onForce?.();
        process.exit(130);
      }
      return;
    }
    stoppingSince = Date.now();
    const force = setTimeout(() => {
      console.error(`${why} took over ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    Promise.resolve()
      .then(cleanup)
      .then(
        () => {
          clearTimeout(force);
          process.exit(exitCode);
        },
        (err: unknown) => {
          console.error("shutdown failed:", err);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", (signal) => shutdown(opts.signalExitCode ?? 0, signal));
  process.on("SIGTERM", (signal) => shutdown(opts.signalExitCode ?? 0, signal));
  if (opts.hangup && !startedIgnoring(1))
    process.on("SIGHUP", (signal) => shutdown(opts.signalExitCode ?? 0, signal));
  if (opts.parentPid !== undefined) watchParent(opts.parentPid, () => shutdown(0, "parent gone"));
  return (exitCode) => shutdown(exitCode);
}

/**
 * Whether signal number `signo` is ignored (as `nohup` ignores SIGHUP): read before any handler is set, that
 * is how this process was started. Linux's /proc says; elsewhere, taken as not ignored.
 */
function startedIgnoring(signo: number): boolean {
  try {
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signo - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Whether process `pid` exists: signal 0 checks without touching it (one of another user's exists too). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Polls the parent. */
function watchParent(pid: number, onGone: () => void): void {
  const timer = setInterval(() => {
    if (isAlive(pid)) return;
    clearInterval(timer);
    console.error(`parent process ${pid} is gone; shutting down`);
    onGone();
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

/**
 * Runs a server app: reads its settings, installs its signal handlers, then starts it. Handlers first, so a
 * signal that comes once it says it is listening, or while it starts, stops it cleanly (after start-up) instead
 * of killing it by the signal's default action.
 */
export async function runApp<E extends { PARENT_PID?: number | undefined }>(
  service: string,
  readEnv: () => E,
  start: (env: E) => Promise<{ stop(): Promise<void> | void }>,
): Promise<void> {
  await runMain(service, async () => {
    const env = readEnv();
    const started = Promise.withResolvers<{ stop(): Promise<void> | void }>();
    started.promise.catch(() => {}); // a failed start is runMain's to report
    onShutdown(async () => (await started.promise).stop(), { parentPid: env.PARENT_PID, hangup: true });
    start(env).then(started.resolve, started.reject);
    await started.promise;
  });
}

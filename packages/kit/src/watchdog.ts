/**
 * A child that cannot watch its parent (redis-server; our own apps watch PARENT_PID) must still not outlive
 * the process that started it, however that one ends: a kill -9 or an OOM kill too, which no handler sees.
 *
 * How: a small Bun process (watchdog-main.ts), in a session of its own so a terminal's Ctrl-C leaves it
 * alone, reads a pipe whose only writer is this process. The kernel closes that end when this process dies,
 * whatever the cause, so the watchdog's read ends at once and it kills the child. Bun opens its pipes
 * close-on-exec, so no other child holds the writing end open. Chosen over:
 * - polling our pid from the watchdog: late by a poll, and fooled by a pid reused meanwhile;
 * - Linux's PDEATHSIG (`setpriv --pdeathsig`): tied to the thread that forked, not the process (with Bun
 *   1.4.5 a child spawned from a Worker is killed when that Worker ends, its process alive), and Linux only:
 *   macOS has nothing like it;
 * - redis-server itself: it has no setting to follow its parent (and its stdin is read only for its config).
 */
import { resolve } from "node:path";

const WATCHDOG = resolve(import.meta.dir, "watchdog-main.ts");

/**
 * Kills `child` (SIGCONT for one that is paused, then SIGKILL) as soon as this process is gone: for a child
 * with nothing to save. Resolves once the child has exited and its watchdog is gone too (the watchdog is
 * stopped when the child exits, so a pid the system reuses later is never killed).
 */
export function killWithThisProcess(child: { pid: number; exited: Promise<unknown> }): Promise<void> {
  const watchdog = Bun.spawn([process.execPath, WATCHDOG, String(child.pid)], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
    detached: true,
  });
  // It must not keep this process running; nothing is ever written to it.
  watchdog.unref();
  return child.exited.then(async () => {
    watchdog.kill("SIGKILL");
    await watchdog.exited;
  });
}

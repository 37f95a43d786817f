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
/** What watchdog-main.ts prints once it watches: before it, a kill -9 of this process would not be seen. */
export const WATCHING_LINE = "watching";

export interface Watchdog {
  /** The watchdog's own process. */
  pid: number;
  /** Resolves once the child has exited and its watchdog is gone too. */
  done: Promise<void>;
  /**
   * Resolves with the watchdog's exit code should it end while the child runs (killed, say): from then on a
   * kill -9 of this process would leave the child running. Never resolves otherwise.
   */
  lost: Promise<number>;
}

/**
 * Kills `child` (SIGCONT for one that is paused, then SIGKILL) as soon as this process is gone: for a child
 * with nothing to save. Resolves once its watchdog watches; `done` once the child has exited and its watchdog
 * is gone too (the watchdog is stopped when the child exits, so a pid the system reuses later is never
 * killed). When no watchdog can watch (it could not be spawned, or it ended before it said it watches), the
 * child is killed at once and this rejects, saying so: a child that a kill -9 of this process would leave
 * running is never left unwatched in silence. `command` replaces the watchdog's (tests: one that fails).
 */
export async function killWithThisProcess(
  child: { pid: number; exited: Promise<unknown>; kill(signal?: NodeJS.Signals): void },
  opts: { command?: string[] } = {},
): Promise<Watchdog> {
  const fail = async (why: string): Promise<never> => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await child.exited;
    throw new Error(
      `no watchdog for process ${child.pid} (${why}): stopped it, as it would outlive a kill -9`,
    );
  };
  let watchdog: Bun.Subprocess<"pipe", "pipe", "ignore">;
  try {
    watchdog = Bun.spawn(opts.command ?? [process.execPath, WATCHDOG, String(child.pid)], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "ignore",
      detached: true,
    });
  } catch (err) {
    return fail(`it could not start: ${(err as Error).message}`);
  }
  // It must not keep this process running; nothing is ever written to it.
  watchdog.unref();
  if (!(await saysWatching(watchdog.stdout))) {
    watchdog.kill("SIGKILL");
    return fail(`it exited with code ${await watchdog.exited} before it watched`);
  }
  let childGone = false;
  return {
    pid: watchdog.pid,
    done: child.exited.then(async () => {
      childGone = true;
      watchdog.kill("SIGKILL");
      await watchdog.exited;
    }),
    lost: watchdog.exited.then((code) => (childGone ? new Promise<never>(() => {}) : code)),
  };
}

/** Whether the watchdog's first line says it watches (its stdout ends, or says something else, if not). */
async function saysWatching(stdout: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = stdout.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const chunk = await reader.read();
      if (chunk.done) return false;
      text += new TextDecoder().decode(chunk.value);
    }
    return text.slice(0, text.indexOf("\n")) === WATCHING_LINE;
  } finally {
    // Nothing more comes; the pipe must not keep this process's event loop alive.
    void reader.cancel().catch(() => {});
  }
}

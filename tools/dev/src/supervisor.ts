import { listeningUrl } from "@evgrid/kit/listening";
import { killWithThisProcess, type Watchdog } from "@evgrid/kit/watchdog";
import type { SpawnOptions, Subprocess } from "bun";

interface Child {
  name: string;
  proc: Subprocess<SpawnOptions.Writable, "pipe", "pipe">;
  /** A store the apps use (StartOptions.store): stopped after every app. */
  store: boolean;
  /** Its watchdog (a store's): gone once the child is. */
  watched?: Promise<void>;
}

export interface StartOptions {
  timeoutMs?: number;
  /** Written to its stdin, which is then closed (redis-server's config: never on disk, never in `ps`). */
  stdin?: string;
  /**
   * A store the apps use, which cannot watch PARENT_PID as our apps do (redis-server). It runs in a process
   * group of its own: a terminal's Ctrl-C reaches every process of the terminal's group at once, and would
   * stop it before the apps that still use it (a balancer answering its last calls). `stop()` stops it after
   * every app; a watchdog kills it should this runner be killed, even by kill -9, and without a watchdog it
   * is not kept running (the start fails, saying why).
   */
  store?: boolean;
}

const COLORS = [36, 33, 35, 32, 34, 91, 92, 93, 94, 95, 96];

/**
 * Runs each app as its own OS process, prefixes every line it prints with its name, learns its URL from
 * its "listening ... url=" line, and stops all of them together: SIGTERM, a grace period, then SIGKILL.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  /** stop() began: no child is started any more (one the stop never saw would outlive it). */
  stopping = false;
  private readonly nameWidth: number;
  private readonly color: boolean;
  private readonly guard: (child: Subprocess) => Promise<Watchdog>;
  onUnexpectedExit: (name: string, code: number | null) => void = () => {};

  /** `guard` starts a store's watchdog (tests: one that fails). */
  constructor(opts: { nameWidth: number; color: boolean; guard?: (child: Subprocess) => Promise<Watchdog> }) {
    this.nameWidth = opts.nameWidth;
    this.color = opts.color;
    this.guard = opts.guard ?? ((child) => killWithThisProcess(child));
  }

  /** Starts a child and resolves with the URL it says it listens on. */
  async start(name: string, cmd: string[], env: Record<string, string>, timeoutMs = 20_000): Promise<string> {
    const [url] = await this.startListening(name, cmd, env, 1, timeoutMs);
    return url as string;
  }

  /**
   * Starts a child that serves `count` apps (a substation process hosting several sites) and resolves with
   * their URLs, in the order it announces them.
   */
  startListening(
    name: string,
    cmd: string[],
    env: Record<string, string>,
    count: number,
    timeoutMs = 20_000,
  ): Promise<string[]> {
    return this.startUntil(name, cmd, env, count, listeningUrl, { timeoutMs });
  }

  /**
   * Starts any child (redis-server, say) and resolves once `ready` has recognised `count` of its lines,
   * with what it made of them.
   */
  async startUntil(
    name: string,
    cmd: string[],
    env: Record<string, string>,
    count: number,
    ready: (line: string) => string | undefined,
    opts: StartOptions = {},
  ): Promise<string[]> {
    if (this.stopping) throw new Error(`${name}: not started, stopping`);
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const stdin = opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]);
    const store = opts.store === true;
    const proc = Bun.spawn(cmd, { env, stdin, stdout: "pipe", stderr: "pipe", detached: store });
    const child: Child = { name, proc, store };
    this.children.push(child);
    const prefix = this.prefix(name, this.children.length - 1);
    // Whether a watchdog watches it (a store). One that failed stopped it: that error is the one to report,
    // not its exit, which comes first (the failing guard awaits the exit before it rejects).
    let watched: Promise<boolean> = Promise.resolve(true);
    const started = new Promise<string[]>((resolve, reject) => {
      const urls: string[] = [];
      const done = () => urls.length >= count;
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onLine = (line: string, toErr: boolean) => {
        (toErr ? process.stderr : process.stdout).write(`${prefix}${line}\n`);
        const url = done() ? undefined : ready(line);
        if (!url) return;
        urls.push(url);
        if (done()) {
          clearTimeout(timer);
          resolve(urls);
        }
      };
      void pumpLines(proc.stdout, (l) => onLine(l, false));
      void pumpLines(proc.stderr, (l) => onLine(l, true));
      void proc.exited.then(async (code) => {
        clearTimeout(timer);
        if (!done()) reject(new Error(`${name} exited with code ${code} before it was ready`));
        else if ((await watched) && !this.stopping) this.onUnexpectedExit(name, code);
      });
    });
    if (store) {
      const guarding = this.guard(proc);
      watched = guarding.then(
        () => true,
        () => false,
      );
      let watchdog: Watchdog;
      try {
        watchdog = await guarding;
      } catch (err) {
        started.catch(() => {}); // it was stopped: this error says why
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      child.watched = watchdog.done;
      // Its watchdog gone while it runs (killed): a kill -9 of this runner would leave it running. Reported
      // as its own exit is (bun run dev stops everything, unless --keep-going).
      void watchdog.lost.then((code) => {
        if (!this.stopping && proc.exitCode === null && proc.signalCode === null)
          this.onUnexpectedExit(`${name}'s watchdog`, code);
      });
    }
    return started;
  }

  /**
   * Stops the newest first (the public API before what it depends on), then the stores, which every app may
   * use until it is gone; and the watchdogs with them.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    const newestFirst = [...this.children].reverse();
    for (const child of [...newestFirst.filter((c) => !c.store), ...newestFirst.filter((c) => c.store)]) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) await this.stopOne(child, graceMs);
      await child.watched;
    }
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  private async stopOne(child: Child, graceMs: number): Promise<void> {
    child.proc.kill("SIGTERM");
    const exited = await Promise.race([
      child.proc.exited.then(() => true),
      Bun.sleep(graceMs).then(() => false),
    ]);
    if (!exited) {
      process.stderr.write(`${child.name} did not stop within ${graceMs} ms; killing it\n`);
      child.proc.kill("SIGKILL");
      await child.proc.exited;
    }
  }

  /** Second Ctrl-C: no more waiting. */
  killAll(): void {
    this.stopping = true;
    for (const child of this.children) child.proc.kill("SIGKILL");
  }

  private prefix(name: string, index: number): string {
    const label = `${name.padEnd(this.nameWidth)} |`;
    return this.color ? `\x1b[${COLORS[index % COLORS.length]}m${label}\x1b[0m ` : `${label} `;
  }
}

async function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      onLine(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
    }
  }
  if (buffered.length > 0) onLine(buffered);
}

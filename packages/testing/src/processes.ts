import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { listeningUrl } from "@evgrid/kit/listening";
import type { Subprocess } from "bun";

export const repoRoot = resolve(import.meta.dir, "../../..");

/**
 * `promise`, or `onTimeout` after `ms`, whichever comes first. Unlike racing a bare `Bun.sleep`, the timer
 * is cleared when the promise wins, so a finished script does not linger until every deadline has passed.
 */
export async function within<T, U>(promise: Promise<T>, ms: number, onTimeout: U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface DevUrls {
  chargeApi: string;
  balancer: string;
  substations: Record<string, string>;
  /** The run's service token, from the banner: internal procedures need it. */
  serviceToken: string;
}

/** Every process below `pid`, from `ps`; used to prove that nothing outlives a shutdown. */
export async function descendants(pid: number): Promise<number[]> {
  const out = await new Response(Bun.spawn(["ps", "-e", "-o", "pid=,ppid="]).stdout).text();
  const children = new Map<number, number[]>();
  for (const line of out.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p === undefined || pp === undefined) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const found: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `bun run dev <args>` exactly as a user would, in its own process group (like a terminal job), and
 * waits for the banner. `interrupt()` is Ctrl-C: SIGINT to the whole group.
 */
export async function startDev(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
) {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // A fresh journal directory per run unless the caller chose one: runs must not inherit each other's sessions.
  const dataArgs = args.includes("--data-dir")
    ? []
    : ["--data-dir", mkdtempSync(join(tmpdir(), "evgrid-dev-"))];
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(
    [process.execPath, "run", "dev", ...args, ...dataArgs],
    {
      cwd: repoRoot,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
    },
  );
  let output = "";
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  while (!output.includes("Ctrl-C stops everything") || !output.includes("every app also serves")) {
    const chunk = await within(reader.read(), deadline - Date.now(), null);
    if (chunk === null) {
      proc.kill("SIGKILL");
      throw new Error(`bun run dev printed no banner within ${timeoutMs} ms:\n${output}`);
    }
    if (chunk.done) throw new Error(`bun run dev exited early:\n${output}\n${await stderr}`);
    output += decoder.decode(chunk.value, { stream: true });
  }
  // Keep draining so a chatty child never blocks on a full pipe.
  const rest = (async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      output += decoder.decode(chunk.value, { stream: true });
    }
  })();

  const urls: DevUrls = {
    chargeApi: "",
    balancer: "",
    substations: {},
    serviceToken: /Authorization: Bearer (\S+)/.exec(output)?.[1] ?? "",
  };
  for (const m of output.matchAll(/^ {2}(charge-api|balancer|substation-\d+)\s+(http:\/\/\S+)/gm)) {
    const [, name, url] = m as unknown as [string, string, string];
    if (name === "charge-api") urls.chargeApi = url;
    else if (name === "balancer") urls.balancer = url;
    else urls.substations[name] = url;
  }
  const tree = await descendants(proc.pid);

  /** The PIDs of the app processes whose command line contains `needle` (e.g. "apps/substation"). */
  const pidsOf = async (needle: string) => {
    const ps = await new Response(Bun.spawn(["ps", "-o", "pid=,args=", "-p", tree.join(",")]).stdout).text();
    return ps
      .trim()
      .split("\n")
      .filter((l) => l.includes(needle))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
  };

  const waitExit = async (ms: number) => {
    const code = await within(proc.exited, ms, "timeout" as const);
    await within(rest, 1000, undefined);
    return { code, output, stderr: await stderr };
  };
  return {
    proc,
    urls,
    /** Every process that `bun run dev` started (the runner and each app), captured once it was up. */
    tree,
    output: () => output,
    pidsOf,
    /** Ctrl-C in the terminal: SIGINT to the whole process group. */
    interrupt: (ms = 15_000) => {
      process.kill(-proc.pid, "SIGINT");
      return waitExit(ms);
    },
    /** What a process manager does: SIGTERM to the top process only. */
    terminate: (ms = 15_000) => {
      proc.kill("SIGTERM");
      return waitExit(ms);
    },
    async [Symbol.asyncDispose]() {
      if (alive(proc.pid)) {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {}
      }
      for (const pid of tree) if (alive(pid)) process.kill(pid, "SIGKILL");
    },
  };
}

/** Runs the client script as a user would, and returns what it printed. */
export async function runClient(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, "run", "client", ...args], {
    cwd: repoRoot,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

/**
 * Starts a process that prints `... listening ... url=<url>` when ready (every app here does) and returns
 * its URL; `stop()` sends SIGTERM and waits.
 */
export async function spawnListening(cmd: string[], env: Record<string, string> = {}, timeoutMs = 15_000) {
  const proc = Bun.spawn(cmd, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    const chunk = await within(reader.read(), deadline - Date.now(), null);
    if (chunk === null || chunk.done) {
      proc.kill("SIGKILL");
      throw new Error(`${cmd.join(" ")} did not report listening:\n${seen}`);
    }
    seen += decoder.decode(chunk.value, { stream: true });
    url = seen
      .split("\n")
      .map(listeningUrl)
      .find((u) => u !== undefined);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read()).done) {}
  })();
  return {
    url,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

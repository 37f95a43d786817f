/** `bun run dev` as a user runs it, for tests and for the benches that measure it (startDev). */
import { rmSync } from "node:fs";
import type { Subprocess } from "bun";
import { eventually } from "./eventually.ts";
import { alive, descendants } from "./process-stats.ts";
import { repoRoot, stopSpawned, within } from "./processes.ts";
import { scratchDir } from "./temp.ts";

export interface DevUrls {
  chargeApi: string;
  /** The first balancer; `balancers` lists every replica (`--balancers n`). */
  balancer: string;
  balancers: string[];
  substations: Record<string, string>;
  /** The OCPP gateway's admin URL, and where charge points connect (ws://.../ocpp). */
  gateway: string;
  ocpp: string;
  /** Demo charge points (`--chargers k`), as the banner prints them. */
  chargers: { id: string; password: string; substationId: string }[];
  /** The run's service token, from the banner: internal procedures need it. */
  serviceToken: string;
}

/** What stops each `bun run dev` that startDev has started and not yet disposed of (see stopDevRuns). */
const devRuns = new Set<() => Promise<void>>();
let devRunsStopped = false;

/**
 * Stops every `bun run dev` that startDev has running, as SIGTERM does (its apps drain, then it exits), and
 * removes their data directories; startDev starts no more (a call never settles): for a command stopped midway
 * (`bun run bench`), which exits next. Its own handler cannot do it: its exit handlers do not run on a signal,
 * and a data directory removed under a run still starting would be made again.
 */
export async function stopDevRuns(): Promise<void> {
  devRunsStopped = true;
  await Promise.all([...devRuns].map((stop) => stop()));
}

/**
 * What a command stopped midway (SIGTERM, Ctrl-C, its terminal closed) runs before it exits: every `bun run
 * dev` (stopDevRuns) and every process of spawnListening (stopSpawned) it started is stopped, and their data
 * directories removed.
 */
export async function stopStarted(): Promise<void> {
  await Promise.all([stopDevRuns(), stopSpawned()]);
}

/**
 * Runs `bun run dev <args>` exactly as a user would, in its own process group (like a terminal job), and
 * waits for the banner. `interrupt()` is Ctrl-C: SIGINT to the whole group.
 */
export async function startDev(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
) {
  if (devRunsStopped) return new Promise<never>(() => {});
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // A fresh journal directory per run unless the caller chose one: runs must not inherit each other's sessions.
  // Removed once every process is gone (the dispose below), or when this process exits.
  const dataDir = args.includes("--data-dir") ? undefined : scratchDir("evgrid-dev-");
  const dataArgs = dataDir === undefined ? [] : ["--data-dir", dataDir];
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(
    [process.execPath, "run", "dev", ...args, ...dataArgs],
    {
      cwd: repoRoot,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
      // The runner stops with this process (it is out of reach of this one's Ctrl-C otherwise).
      env: { ...process.env, NO_COLOR: "1", PARENT_PID: String(process.pid), ...opts.env },
    },
  );
  let tree: number[] = [];
  // Forgotten (devRuns) only once stopped and its data gone, so stopDevRuns waits for a dispose under way.
  let disposing: Promise<void> | undefined;
  const dispose = () => {
    disposing ??= (async () => {
      if (alive(proc.pid)) {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {}
      }
      for (const pid of tree) if (alive(pid)) process.kill(pid, "SIGKILL");
      if (dataDir !== undefined) {
        // Its journals go once no process can write them any more (or after 5 s regardless: cleaning up
        // never fails a test).
        await eventually(() => {
          if (tree.some(alive)) throw new Error("bun run dev's processes still running");
        }).catch(() => {});
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
      }
      devRuns.delete(stopRun);
    })();
    return disposing;
  };
  const stopRun = async () => {
    proc.kill("SIGTERM");
    await within(proc.exited, 15_000, undefined);
    await dispose();
  };
  devRuns.add(stopRun);
  let output = "";
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + timeoutMs;
  while (!output.includes("Ctrl-C stops everything") || !output.includes("every app also serves")) {
    const chunk = await within(reader.read(), deadline - Date.now(), null);
    if (chunk === null) {
      await dispose(); // its whole process group, and its data
      throw new Error(`bun run dev printed no banner within ${timeoutMs} ms:\n${output}`);
    }
    if (chunk.done) {
      if (devRunsStopped) return new Promise<never>(() => {}); // stopped by stopDevRuns: its command exits
      const error = new Error(`bun run dev exited early:\n${output}\n${await stderr}`);
      await dispose();
      throw error;
    }
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
    balancers: [],
    substations: {},
    gateway: /^ {2}ocpp-gateway\s+(http:\/\/\S+)/m.exec(output)?.[1] ?? "",
    ocpp: /charge points: (ws:\/\/\S+)\/<id>/.exec(output)?.[1] ?? "",
    chargers: [...output.matchAll(/^ {4}(cp-\S+)\s+(\S+)\s+at (\S+)$/gm)].map((m) => ({
      id: m[1] as string,
      password: m[2] as string,
      substationId: m[3] as string,
    })),
    // Printed when the run made it; one passed in the environment is not printed.
    serviceToken: opts.env?.SERVICE_TOKEN ?? /Authorization: Bearer (\S+)/.exec(output)?.[1] ?? "",
  };
  for (const m of output.matchAll(/^ {2}(charge-api|balancer(?:-\d+)?|substation-\d+)\s+(http:\/\/\S+)/gm)) {
    const [, name, url] = m as unknown as [string, string, string];
    if (name === "charge-api") urls.chargeApi = url;
    else if (name.startsWith("balancer")) {
      urls.balancers.push(url);
      urls.balancer ||= url;
    } else urls.substations[name] = url;
  }
  tree = await descendants(proc.pid);

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
    [Symbol.asyncDispose]: dispose,
  };
}

import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { listeningUrl } from "@evgrid/kit/listening";
import type { Subprocess } from "bun";
import { eventually } from "./eventually.ts";
import { alive, descendants } from "./process-stats.ts";
import { scratchDir } from "./temp.ts";

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
      if (dataDir === undefined) return;
      // Its journals go once no process can write them any more (or after 5 s regardless: cleaning up
      // never fails a test).
      await eventually(() => {
        if (tree.some(alive)) throw new Error("bun run dev's processes still running");
      }).catch(() => {});
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Runs a command from the repository's root as a user would, and returns what it printed and its exit code. */
export async function runCommand(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, {
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

/** `bun run <script> <args>`, as a user types it. */
export const runScript = (script: string, args: string[], env: Record<string, string> = {}) =>
  runCommand([process.execPath, "run", script, ...args], env);

/** Runs the client script as a user would, and returns what it printed. */
export const runClient = (args: string[], env: Record<string, string> = {}) => runScript("client", args, env);

/**
 * Starts a process that prints `... listening ... url=<url>` when ready (every app here does) and returns
 * its URL. What it prints is kept (`stdout()`, `stderr()`); `stop()` sends SIGTERM and resolves with the
 * exit code; `await using` kills it if the test did not stop it.
 */
export async function spawnListening(cmd: string[], env: Record<string, string> = {}, timeoutMs = 15_000) {
  const proc = Bun.spawn(cmd, {
    cwd: repoRoot,
    // Every app stops with this process (PARENT_PID), so a script or test killed midway leaves none behind.
    env: { ...process.env, PARENT_PID: String(process.pid), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { text: "" };
  const err = { text: "" };
  // Always drained, so the child never blocks on a full pipe.
  const drained = Promise.all([keep(proc.stdout, out), keep(proc.stderr, err)]);
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    url = out.text
      .split("\n")
      .map(listeningUrl)
      .find((u) => u !== undefined);
    if (url) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(
        `${cmd.join(" ")} did not report listening (exit ${proc.exitCode}):\n${out.text}\n${err.text}`,
      );
    }
    await Bun.sleep(20);
  }
  return {
    url,
    proc,
    pid: proc.pid,
    stdout: () => out.text,
    stderr: () => err.text,
    /** SIGTERM, as a process manager stops it; resolves with the exit code once its output is read. */
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      await within(drained, 1000, undefined);
      return code;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

async function keep(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
type Json = any;

/**
 * One app as its own OS process (`bun apps/<app>/src/main.ts`) on 127.0.0.1 port 0, plus `call` for its
 * tRPC procedures with the service token in `env`.
 */
export async function spawnApp(
  app: "substation" | "balancer" | "charge-api" | "ocpp-gateway",
  env: Record<string, string>,
) {
  const running = await spawnListening([process.execPath, `apps/${app}/src/main.ts`], {
    HOST: "127.0.0.1",
    PORT: "0",
    ...env,
  });
  const call = async (procedure: string, input?: unknown): Promise<{ status: number; json: Json }> => {
    const headers = { authorization: `Bearer ${env.SERVICE_TOKEN}`, "content-type": "application/json" };
    const res =
      input === undefined
        ? await fetch(`${running.url}/trpc/${procedure}`, { headers })
        : await fetch(`${running.url}/trpc/${procedure}`, {
            method: "POST",
            headers,
            body: JSON.stringify(input),
          });
    return { status: res.status, json: await res.json() };
  };
  return { ...running, call, metrics: async () => (await fetch(`${running.url}/metrics`)).text() };
}

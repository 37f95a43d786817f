import { resolve } from "node:path";
import { listeningUrl } from "@evgrid/kit/listening";
import { within } from "@evgrid/kit/timers";
import type { Subprocess } from "bun";

export { within };

export const repoRoot = resolve(import.meta.dir, "../../..");

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

/** The processes spawnListening started that have not exited yet (see stopSpawned). */
const spawned = new Set<Subprocess>();
let spawnedStopped = false;

/**
 * Stops every process spawnListening started (SIGTERM, SIGKILL after 10 s), one still starting too, and
 * spawnListening starts no more (a call never settles): for a command stopped midway (`bun run soak`), which
 * exits next. Their parent watch would stop most of them only a second after it exits, and not every one
 * has it (the bench's bare hops).
 */
export async function stopSpawned(): Promise<void> {
  spawnedStopped = true;
  await Promise.all(
    [...spawned].map(async (proc) => {
      proc.kill("SIGTERM");
      if ((await within(proc.exited, 10_000, "late" as const)) === "late") proc.kill("SIGKILL");
      await proc.exited;
    }),
  );
}

/**
 * Starts a process that prints `... listening ... url=<url>` when ready (every app here does) and returns
 * its URL. What it prints is kept (`stdout()`, `stderr()`); `stop()` sends SIGTERM and resolves with the
 * exit code; `await using` kills it if the test did not stop it.
 */
export async function spawnListening(cmd: string[], env: Record<string, string> = {}, timeoutMs = 15_000) {
  if (spawnedStopped) return new Promise<never>(() => {});
  const proc = Bun.spawn(cmd, {
    cwd: repoRoot,
    // Every app stops with this process (PARENT_PID), so a script or test killed midway leaves none behind.
    env: { ...process.env, PARENT_PID: String(process.pid), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  spawned.add(proc);
  void proc.exited.then(() => spawned.delete(proc));
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
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      if (spawnedStopped) return new Promise<never>(() => {}); // stopped by stopSpawned: its command exits
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

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repoRoot = resolve(import.meta.dir, "../../..");
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers.
type Json = any;

export const SERVICE_TOKEN = "substation-process-test-token";

/** A fresh directory, removed by the returned disposer. */
export function tempDir(prefix: string) {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

async function drain(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

/**
 * A real substation process (`bun apps/substation/src/main.ts`) on 127.0.0.1 port 0, with its stdout and
 * stderr kept for the test to read. `await using` kills it if the test did not stop it.
 */
export async function spawnSubstation(env: Record<string, string>, timeoutMs = 15_000) {
  const proc = Bun.spawn([process.execPath, "apps/substation/src/main.ts"], {
    cwd: repoRoot,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", SERVICE_TOKEN, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = { text: "" };
  const err = { text: "" };
  void drain(proc.stdout, out);
  void drain(proc.stderr, err);
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    url = /listening .*url=(\S+)/.exec(out.text)?.[1];
    if (url) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`substation did not start (exit ${proc.exitCode}):\n${out.text}\n${err.text}`);
    }
    await Bun.sleep(20);
  }
  const call = async (procedure: string, input?: unknown): Promise<{ status: number; json: Json }> => {
    const headers = { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" };
    const res =
      input === undefined
        ? await fetch(`${url}/trpc/${procedure}`, { headers })
        : await fetch(`${url}/trpc/${procedure}`, { method: "POST", headers, body: JSON.stringify(input) });
    return { status: res.status, json: await res.json() };
  };
  return {
    url,
    pid: proc.pid,
    proc,
    stdout: () => out.text,
    stderr: () => err.text,
    call,
    /** The substation's own view of itself. */
    load: async (): Promise<Json> => (await call("getLoad")).json.result.data,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    /** SIGTERM, as a process manager stops it; resolves with the exit code. */
    async stop() {
      proc.kill("SIGTERM");
      return proc.exited;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

/** CPU time (user + system) the process has used, in clock ticks of 10 ms, from /proc (Linux). */
export async function cpuTicks(pid: number): Promise<number> {
  const fields = (await Bun.file(`/proc/${pid}/stat`).text()).split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat: 12 and 13 once pid and command name are cut off.
  return Number(fields[11]) + Number(fields[12]);
}

/** Polls `check` until it returns a value other than undefined, or throws once `timeoutMs` has passed. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** A sample's value on a /metrics page, e.g. metric(text, "evgrid_substation_journal_errors_total", {op: "start"}). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** A load-tester command run as a user's terminal job would be, for the tests that stop it midway. */
import { isAlive } from "@evgrid/kit/process";
import { eventually } from "./eventually.ts";
import { descendants } from "./process-stats.ts";
import { repoRoot } from "./processes.ts";

/**
 * `bun apps/load-tester/src/<file> <args>` as its own process group (a terminal job), its temporary files in
 * `tmp`, what it prints kept. Every process `pids` or `tree` sees is remembered: `await using` kills the
 * group and each of them that is left.
 */
export function startToolJob(file: string, args: string[], tmp: string) {
  const proc = Bun.spawn([process.execPath, `apps/load-tester/src/${file}`, ...args], {
    cwd: repoRoot,
    env: { ...process.env, TMPDIR: tmp },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const out = { text: "" };
  void (async () => {
    for await (const chunk of proc.stdout) out.text += new TextDecoder().decode(chunk);
  })();
  const stderr = new Response(proc.stderr).text();
  const seen = new Set<number>();
  const pids = async (): Promise<number[]> => {
    const now = await descendants(proc.pid);
    for (const pid of now) seen.add(pid);
    return now;
  };
  return {
    proc,
    stdout: () => out.text,
    stderr: () => stderr,
    /** Every process of the run now. */
    pids,
    /** Every process of the run now, with its command line. */
    async tree(): Promise<{ pid: number; args: string }[]> {
      const now = await pids();
      if (now.length === 0) return [];
      const ps = await new Response(Bun.spawn(["ps", "-o", "pid=,args=", "-p", now.join(",")]).stdout).text();
      return ps
        .trim()
        .split("\n")
        .map((l) => ({ pid: Number(l.trim().split(/\s+/)[0]), args: l.trim() }));
    },
    /** Its exit code, and what it printed to stderr unless that is 130 (stopped by a signal, as asked). */
    async exit() {
      const code = await proc.exited;
      return { code, stderr: code === 130 ? "" : await stderr };
    },
    async [Symbol.asyncDispose]() {
      if (isAlive(proc.pid)) process.kill(-proc.pid, "SIGKILL");
      for (const pid of seen) if (isAlive(pid)) process.kill(pid, "SIGKILL");
      await proc.exited;
    },
  };
}

/** Until `run` prints `line` (90 s at most: a grid starting on a busy machine). */
export const printedLine = (run: { stdout(): string }, line: string) =>
  eventually(
    () => {
      if (!run.stdout().includes(line)) throw new Error(`not printed yet (${line}):\n${run.stdout()}`);
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  );

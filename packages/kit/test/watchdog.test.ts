/** killWithThisProcess: a child that cannot watch its parent still does not outlive it. */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { resolve } from "node:path";
import { isAlive } from "../src/process.ts";
import { killWithThisProcess } from "../src/watchdog.ts";

const STARTER = resolve(import.meta.dir, "fixtures/guarded-starter.ts");
const started: number[] = [];
// init reaps an orphan it is handed about once a second on some machines: room for that, and a hang guard.
setDefaultTimeout(30_000);

/** Polls `probe` until it answers (not undefined, not false), or throws after `timeoutMs` (a hang guard). */
async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== false) return answer;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
}

/** The watchdog that `pid` started, if it runs (found by its command line: `ps` itself is a child too). */
async function watchdogOf(pid: number): Promise<number | undefined> {
  const ps = await new Response(Bun.spawn(["ps", "-e", "-o", "pid=,ppid=,args="]).stdout).text();
  const line = ps
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find(([, ppid, ...args]) => Number(ppid) === pid && args.some((a) => a.endsWith("watchdog-main.ts")));
  return line === undefined ? undefined : Number(line[0]);
}

/** A starter (the fixture) with a guarded child, an unguarded one, and the guarded one's watchdog. */
async function startStarter() {
  const starter = Bun.spawn([process.execPath, STARTER], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  started.push(starter.pid);
  const reader = starter.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`the starter exited early: ${line}`);
    line += new TextDecoder().decode(chunk.value);
  }
  const [guarded, other] = line.trim().split(" ").map(Number) as [number, number];
  started.push(guarded, other);
  const watchdog = await until("the watchdog runs", () => watchdogOf(starter.pid));
  started.push(watchdog);
  return { starter, guarded, other, watchdog };
}

afterEach(() => {
  for (const pid of started.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
});

describe("killWithThisProcess", () => {
  test("a kill -9 of the starter kills the guarded child; a child it does not guard lives on", async () => {
    const { starter, guarded, other, watchdog } = await startStarter();
    starter.kill("SIGKILL");
    await until("the guarded child is gone", () => !isAlive(guarded));
    await until("its watchdog is gone", () => !isAlive(watchdog));
    // The other child lives: it was never guarded, and it did not keep the watchdog's pipe open either.
    expect(isAlive(other)).toBe(true);
  });

  test("a guarded child that is paused (SIGSTOP) is killed too", async () => {
    const { starter, guarded, watchdog } = await startStarter();
    process.kill(guarded, "SIGSTOP");
    starter.kill("SIGKILL");
    await until("the paused child is gone", () => !isAlive(guarded));
    await until("its watchdog is gone", () => !isAlive(watchdog));
  });

  test("a child that exits on its own takes its watchdog with it, and the starter lives on", async () => {
    const child = Bun.spawn(["sleep", "600"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    started.push(child.pid);
    const { done } = await killWithThisProcess(child);
    const watchdog = await until("the watchdog runs", () => watchdogOf(process.pid));
    child.kill("SIGTERM");
    await done;
    expect(isAlive(watchdog)).toBe(false);
  });

  // A child a kill -9 of its starter would leave running is not kept running unwatched: it is stopped, and
  // the starter is told why (bun run dev then stops and says so).
  test.each([
    ["cannot be spawned", ["/nonexistent/watchdog"], "it could not start: ENOENT"],
    ["exits before it watches", ["sh", "-c", "exit 3"], "it exited with code 3 before it watched"],
  ])("a watchdog that %s: the child is stopped and the start fails, saying why", async (_, command, why) => {
    const child = Bun.spawn(["sleep", "600"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    started.push(child.pid);
    const failed = await killWithThisProcess(child, { command }).catch((err: Error) => err.message);
    expect(failed).toContain(`no watchdog for process ${child.pid} (${why}`);
    expect(await child.exited).not.toBe(0);
    expect(isAlive(child.pid)).toBe(false);
  });
});

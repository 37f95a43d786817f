/** `bun run dev`'s supervisor with a store (redis-server under --redis), on stand-in processes. */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { killWithThisProcess, type Watchdog } from "@evgrid/kit/watchdog";
import { alive, eventually, tempDir } from "@evgrid/testing";
import { Supervisor } from "../../tools/dev/src/supervisor.ts";

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});

/** A stand-in that says `ready <its pid>`, and on SIGTERM writes its name to `log`, then exits. */
const standIn = (name: string, log: string) => [
  "sh",
  "-c",
  `trap 'echo ${name} >> "${log}"; exit 0' TERM; echo ready $$; while :; do sleep 1 & wait; done`,
];
const readyPid = (line: string) => (line.startsWith("ready ") ? line.slice(6) : undefined);

const pgidOf = async (pid: number) =>
  Number((await new Response(Bun.spawn(["ps", "-o", "pgid=", "-p", String(pid)]).stdout).text()).trim());

describe("Supervisor, stopped while bun run dev still starts its apps", () => {
  test("a start asked for once stop() began starts nothing: no app is left that the stop never saw", async () => {
    using dir = tempDir("evgrid-supervisor-");
    const log = join(dir.path, "stopped");
    const supervisor = new Supervisor({ nameWidth: 10, color: false });
    try {
      const [first] = await supervisor.startUntil("substation", standIn("substation", log), {}, 1, readyPid);
      started.push(Number(first));
      // SIGTERM during start-up: the stop runs while bun run dev's start sequence goes on to the next app.
      const stopping = supervisor.stop();
      const late = await supervisor.startUntil("balancer", standIn("balancer", log), {}, 1, readyPid).then(
        ([pid]) => {
          started.push(Number(pid));
          return `started ${pid}`;
        },
        (err: Error) => err.message,
      );
      await stopping;
      expect(late).toBe("balancer: not started, stopping");
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["substation"]);
    } finally {
      supervisor.killAll();
    }
  });
});

describe("Supervisor, a store among the apps", () => {
  test("the store has a process group of its own (a terminal's Ctrl-C misses it) and stops after every app", async () => {
    using dir = tempDir("evgrid-supervisor-");
    const log = join(dir.path, "stopped");
    const supervisor = new Supervisor({ nameWidth: 10, color: false });
    const start = async (name: string, store: boolean) => {
      const [pid] = await supervisor.startUntil(name, standIn(name, log), {}, 1, readyPid, { store });
      started.push(Number(pid));
      return Number(pid);
    };
    try {
      // As bun run dev starts them: the substations, then the store, then the balancers that use it.
      const substation = await start("substation", false);
      const store = await start("redis", true);
      await start("balancer", false);
      expect({ substation: await pgidOf(substation), store: await pgidOf(store) }).toEqual({
        substation: await pgidOf(process.pid),
        store,
      });
      await supervisor.stop();
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["balancer", "substation", "redis"]);
    } finally {
      supervisor.killAll();
    }
  });

  test("a store whose watchdog cannot start: the start fails saying so, and the store is not left running", async () => {
    using dir = tempDir("evgrid-supervisor-");
    const supervisor = new Supervisor({
      nameWidth: 10,
      color: false,
      guard: (child) => killWithThisProcess(child, { command: ["/nonexistent/watchdog"] }),
    });
    try {
      const failed = await supervisor
        .startUntil("redis", standIn("redis", join(dir.path, "stopped")), {}, 1, readyPid, { store: true })
        .then(
          () => "started",
          (err: Error) => err.message,
        );
      expect(failed).toMatch(/^redis: no watchdog for process \d+ \(it could not start: ENOENT/);
      const pid = Number(/process (\d+)/.exec(failed)?.[1]);
      started.push(pid);
      expect(alive(pid)).toBe(false);
    } finally {
      await supervisor.stop();
    }
  });

  test("its watchdog killed while it runs: reported as the store's own exit would be, the store left to stop()", async () => {
    using dir = tempDir("evgrid-supervisor-");
    const log = join(dir.path, "stopped");
    const watchdogs: Watchdog[] = [];
    const supervisor = new Supervisor({
      nameWidth: 10,
      color: false,
      guard: async (child) => {
        const watchdog = await killWithThisProcess(child);
        watchdogs.push(watchdog);
        return watchdog;
      },
    });
    const reports: string[] = [];
    supervisor.onUnexpectedExit = (name, code) => reports.push(`${name} ${code}`);
    try {
      const [pid] = await supervisor.startUntil("redis", standIn("redis", log), {}, 1, readyPid, {
        store: true,
      });
      started.push(Number(pid));
      const [watchdog] = watchdogs as [Watchdog];
      started.push(watchdog.pid);
      process.kill(watchdog.pid, "SIGKILL");
      // 128 + 9: killed by SIGKILL. What bun run dev does with it is its onUnexpectedExit's (stop everything).
      await eventually(() => expect(reports).toEqual(["redis's watchdog 137"]));
      expect(alive(Number(pid))).toBe(true);
      await supervisor.stop();
      expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["redis"]);
      expect(reports).toEqual(["redis's watchdog 137"]);
    } finally {
      supervisor.killAll();
    }
  });
});

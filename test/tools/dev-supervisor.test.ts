/** `bun run dev`'s supervisor with redis-server's stand-in (--redis). */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { killWithThisProcess } from "@evgrid/kit/watchdog";
import { alive, tempDir } from "@evgrid/testing";
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

describe("Supervisor, a child that needs a watchdog (redis-server)", () => {
  test("a child whose watchdog cannot start: the start fails saying so, and it is not left running", async () => {
    using dir = tempDir("evgrid-supervisor-");
    const supervisor = new Supervisor({
      nameWidth: 10,
      color: false,
      guard: (child) => killWithThisProcess(child, { command: ["/nonexistent/watchdog"] }),
    });
    try {
      const failed = await supervisor
        .startUntil("redis", standIn("redis", join(dir.path, "stopped")), {}, 1, readyPid, { watchdog: true })
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
});

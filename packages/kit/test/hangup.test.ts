/** onShutdown's `hangup`: a closed terminal (SIGHUP) stops a command as SIGTERM does, unless run by nohup. */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";

const FIXTURE = resolve(import.meta.dir, "fixtures/hangup.ts");
const RUN_APP = resolve(import.meta.dir, "fixtures/run-app.ts");

/** A fixture, started as `prefix` says (nohup ignores SIGHUP before it runs), once it prints `ready`. */
async function start(prefix: string[] = [], fixture = FIXTURE, ready = "ready") {
  const proc = Bun.spawn([...prefix, process.execPath, fixture], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
  });
  const reader = proc.stdout.getReader();
  let out = "";
  const until = async (text: string) => {
    while (!out.includes(text)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`ended before "${text}": ${out}`);
      out += new TextDecoder().decode(chunk.value);
    }
  };
  await until(ready);
  return { proc, until, out: () => out };
}

describe("onShutdown({ hangup: true })", () => {
  test("SIGHUP runs the cleanup, then the signal's exit status", async () => {
    const run = await start();
    try {
      run.proc.kill("SIGHUP");
      expect(await run.proc.exited).toBe(130);
      await run.until("cleanup");
    } finally {
      run.proc.kill("SIGKILL");
    }
  });

  test("started by nohup (SIGHUP ignored): it carries on, and ends as it would have", async () => {
    const run = await start(["nohup"]);
    try {
      run.proc.kill("SIGHUP");
      // It still answers after the hangup, and ends on the end of its input: not by the hangup's cleanup.
      run.proc.stdin.write("ping\n");
      await run.until("pong");
      run.proc.stdin.end();
      expect(await run.proc.exited).toBe(0);
      expect(run.out()).not.toContain("cleanup");
    } finally {
      run.proc.kill("SIGKILL");
    }
  });
});

describe("runApp", () => {
  test("a hangup once it says it is listening, while its start-up goes on, stops it once started, exit 0", async () => {
    const run = await start([], RUN_APP, "listening");
    try {
      run.proc.kill("SIGHUP");
      run.proc.stdin.write("go\n"); // start-up ends only now
      expect(await run.proc.exited).toBe(0);
      await run.until("stopped");
    } finally {
      run.proc.kill("SIGKILL");
    }
  });
});

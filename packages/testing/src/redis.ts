import { freePort } from "@evgrid/kit/listening";
import { RedisClient } from "bun";

export { freePort };

/** Answers PING on the port? */
async function pings(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: { data() {}, error() {} },
    });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * A real redis-server (Debian's `redis-server`) on 127.0.0.1 and a free port, nothing persisted. `stop()` and
 * `start()` take it down and bring it back on the same port (a store outage); `await using` stops it. Throws,
 * never skips, when the binary is missing: the tests that need it must fail in CI.
 */
export async function startRedis() {
  const bin = Bun.which("redis-server");
  if (!bin) throw new Error("redis-server is not installed: apt-get install -y redis-server (.ci/run does)");
  const port = freePort();
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    if (proc) return; // running already
    proc = Bun.spawn(
      [bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdout: "ignore", stderr: "pipe" },
    );
    const deadline = Date.now() + 10_000;
    while (!(await pings(port))) {
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`redis-server did not start on ${port}`);
      await Bun.sleep(20);
    }
  };
  const stop = async () => {
    if (!proc) return;
    proc.kill("SIGCONT"); // a paused one too
    proc.kill("SIGKILL");
    await proc.exited;
    proc = null;
  };
  /** SIGSTOP / SIGCONT: a store that hangs (connections open, nothing answered), then carries on. */
  const signal = (sig: "SIGSTOP" | "SIGCONT") => (proc as ReturnType<typeof Bun.spawn> | null)?.kill(sig);
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    /** The store forgets everything (as a restart without persistence or a failover to an empty replica). */
    async flushAll() {
      const client = new RedisClient(`redis://127.0.0.1:${port}`);
      try {
        await client.send("FLUSHALL", []);
      } finally {
        client.close();
      }
    },
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

import { freePort } from "@evgrid/kit/listening";

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

export interface RedisOptions {
  /** `requirepass`: the default user needs it (`redis://:password@...`). */
  password?: string;
  /** An ACL user with this password, allowed the evgrid keys and every command (`redis://user:password@...`). */
  user?: { name: string; password: string };
}

/**
 * A real redis-server (Debian's `redis-server`) on 127.0.0.1 and a free port, nothing persisted, closed with a
 * password if asked (its config comes on stdin: no password in the process list). `stop()` and `start()` take
 * it down and bring it back on the same port (a store outage); `await using` stops it. Throws, never skips,
 * when the binary is missing: the tests that need it must fail in CI.
 */
export async function startRedis(opts: RedisOptions = {}) {
  const bin = Bun.which("redis-server");
  if (!bin) throw new Error("redis-server is not installed: apt-get install -y redis-server (.ci/run does)");
  const port = freePort();
  const config = [
    `port ${port}`,
    "bind 127.0.0.1",
    'save ""',
    "appendonly no",
    ...(opts.password ? [`requirepass ${opts.password}`] : []),
    ...(opts.user ? [`user ${opts.user.name} on >${opts.user.password} ~evgrid:* &* +@all`] : []),
  ].join("\n");
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    if (proc) return; // running already
    proc = Bun.spawn([bin, "-"], { stdin: new Blob([`${config}\n`]), stdout: "ignore", stderr: "pipe" });
    const deadline = Date.now() + 10_000;
    while (!(await pings(port))) {
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`redis-server did not start on ${port}`);
      await Bun.sleep(20);
    }
  };
  const stop = async () => {
    if (!proc) return;
    proc.kill("SIGKILL");
    await proc.exited;
    proc = null;
  };
  await start();
  const auth = opts.user
    ? `${opts.user.name}:${encodeURIComponent(opts.user.password)}@`
    : opts.password
      ? `:${encodeURIComponent(opts.password)}@`
      : "";
  return {
    /** With the credentials in it (the ACL user's when there is one). */
    url: `redis://${auth}127.0.0.1:${port}`,
    /** With no credentials: what a stranger on the network would try. */
    openUrl: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

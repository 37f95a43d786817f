import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@evgrid/kit/listening";
import { killWithThisProcess } from "@evgrid/kit/watchdog";
import { RedisClient } from "bun";
import { startOnFreePort } from "./free-port.ts";

export { freePort };

/** What redis-server (and Valkey) logs once it accepts connections: its own word, not anyone's on the port. */
const READY_LINE = "Ready to accept connections";

export interface RedisOptions {
  /** `requirepass`: the default user needs it (`redis://:password@...`). */
  password?: string;
  /** An ACL user with this password, allowed the evgrid keys and every command (`redis://user:password@...`). */
  user?: { name: string; password: string };
  /** TLS only (`rediss://`), with a self-signed certificate for 127.0.0.1 made by openssl (`caFile`). */
  tls?: boolean;
  /**
   * Where a `SAVE` writes its snapshot, which a restart (`stop()` then `start()`) loads: a store restored
   * from persistence. Without, nothing is persisted.
   */
  dir?: string;
}

/** A self-signed certificate and its key for 127.0.0.1, in a fresh directory. */
function selfSignedCert(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "evgrid-redis-tls-"));
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  const made = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
    ].concat(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert]),
    { stdout: "ignore", stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr.toString()}`);
  return { dir, cert, key };
}

/**
 * A real redis-server (Debian's `redis-server`) on 127.0.0.1 and a free port, nothing persisted, closed with a
 * password if asked (its config comes on stdin: no password in the process list, none on disk). `stop()` and
 * `start()` take it down and bring it back on the same port (a store outage); `await using` stops it for
 * good. It dies with the process that started it, even one killed with kill -9 (a test runner, `bun run
 * chaos`). Throws, never skips, when the binary is missing: the tests that need it must fail in CI.
 */
export async function startRedis(opts: RedisOptions = {}) {
  const bin = Bun.which("redis-server");
  if (!bin) throw new Error("redis-server is not installed: apt-get install -y redis-server (.ci/run does)");
  let port = 0;
  const tls = opts.tls ? selfSignedCert() : undefined;
  const configFor = (port: number) =>
    [
      ...(tls
        ? ["port 0", `tls-port ${port}`, `tls-cert-file ${tls.cert}`, `tls-key-file ${tls.key}`]
        : [`port ${port}`]),
      ...(tls ? [`tls-ca-cert-file ${tls.cert}`, "tls-auth-clients no"] : []),
      "bind 127.0.0.1",
      'save ""',
      "appendonly no",
      ...(opts.dir ? [`dir ${opts.dir}`, "dbfilename dump.rdb"] : []),
      ...(opts.password ? [`requirepass ${opts.password}`] : []),
      ...(opts.user ? [`user ${opts.user.name} on >${opts.user.password} ~evgrid:* &* +@all`] : []),
    ].join("\n");
  let config = "";
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  let guarded: Promise<void> = Promise.resolve();
  let disposed = false;
  const start = async () => {
    // A fault still running when its run was interrupted must not bring a store back after the end.
    if (disposed) throw new Error("this redis-server was stopped for good");
    if (proc) return; // running already
    const spawned = Bun.spawn([bin, "-"], {
      stdin: new Blob([`${config}\n`]),
      stdout: "pipe",
      stderr: "pipe",
    });
    // Taken for running from now on, ready or not: a stop() (a dispose) meanwhile stops this one for good.
    proc = spawned;
    const stoppedMeanwhile = () => proc !== spawned || spawned.signalCode !== null;
    const watch = await killWithThisProcess(spawned).catch((err: unknown) => {
      if (proc === spawned) proc = null;
      throw err;
    });
    // Ready when it says so: a connection to the port proves nothing (the port may be taken, and then
    // redis-server exits while the other listener answers). Its log is read to the end (never a full pipe)
    // and kept up to then, for the error.
    let log = "";
    let ready = false;
    const read = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        if (ready) continue;
        log = (log + new TextDecoder().decode(chunk)).slice(-4096);
        ready = log.includes(READY_LINE);
      }
    };
    const reading = Promise.all([read(spawned.stdout), read(spawned.stderr)]);
    const deadline = Date.now() + 10_000;
    while (!ready || stoppedMeanwhile()) {
      if (spawned.exitCode !== null || stoppedMeanwhile() || Date.now() > deadline) {
        // Not running, and not taken for running: a later start() starts it again.
        const why = stoppedMeanwhile()
          ? "stopped while it started"
          : spawned.exitCode !== null
            ? `it exited with code ${spawned.exitCode}`
            : "not ready in 10 s";
        spawned.kill("SIGKILL");
        await Promise.all([spawned.exited, reading, watch.done]);
        if (proc === spawned) proc = null;
        throw new Error(`redis-server did not start on ${port} (${why}):\n${log.trim()}`);
      }
      await Bun.sleep(20);
    }
    guarded = watch.done;
  };
  const stop = async () => {
    const stopping = proc;
    if (!stopping) return;
    stopping.kill("SIGCONT"); // a paused one too
    stopping.kill("SIGKILL");
    await stopping.exited;
    await guarded; // its watchdog gone too (one still starting: its start() waits for it)
    if (proc === stopping) proc = null;
  };
  /** SIGSTOP / SIGCONT: a store that hangs (connections stay open, nothing answers), then carries on. */
  const pause = () => proc?.kill("SIGSTOP");
  const resume = () => proc?.kill("SIGCONT");
  // A port found free can be taken before redis-server binds it (another test's server, on a busy machine):
  // the first start then takes another. A start after stop() keeps its port (a store comes back where it was).
  await startOnFreePort(async (free) => {
    port = free;
    config = configFor(free);
    await start();
  });
  const auth = opts.user
    ? `${opts.user.name}:${encodeURIComponent(opts.user.password)}@`
    : opts.password
      ? `:${encodeURIComponent(opts.password)}@`
      : "";
  const scheme = tls ? "rediss" : "redis";
  const adminUrl = `${scheme}://${auth}127.0.0.1:${port}`;
  const adminTls = tls ? { tls: { ca: readFileSync(tls.cert, "utf8") } } : {};
  return {
    /** With the credentials in it (the ACL user's when there is one). */
    url: adminUrl,
    /** With no credentials: what a stranger on the network would try. */
    openUrl: `${scheme}://127.0.0.1:${port}`,
    /** The certificate to trust (TLS only). */
    caFile: tls?.cert,
    port,
    start,
    stop,
    pause,
    resume,
    /** The store forgets everything (as a restart without persistence or a failover to an empty replica). */
    async flushAll() {
      const client = new RedisClient(adminUrl, adminTls);
      try {
        await client.send("FLUSHALL", []);
      } finally {
        client.close();
      }
    },
    async [Symbol.asyncDispose]() {
      disposed = true;
      await stop();
      if (tls) rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}

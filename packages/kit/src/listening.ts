/**
 * The line every app logs once it serves: `{"level":"info",...,"url":"<url>","msg":"<service> listening"}`
 * (LOG_FORMAT=json) or `info <service> listening url=<url> ...` (pretty). `bun run dev` and the test harness
 * learn each app's real URL (port 0) from it, so its shape is a contract: written by `listeningLine`, read
 * by `listeningUrl`, nowhere else.
 */
export const listeningLine = (service: string) => `${service} listening`;

/** The URL a `listeningLine` announces, or undefined for any other line. */
export function listeningUrl(line: string): string | undefined {
  if (line.startsWith("{")) {
    try {
      const event = JSON.parse(line) as { msg?: unknown; url?: unknown };
      const announces = typeof event.msg === "string" && event.msg.endsWith(" listening");
      return announces && typeof event.url === "string" ? event.url : undefined;
    } catch {
      return undefined;
    }
  }
  return /\blistening .*\burl=(\S+)/.exec(line)?.[1];
}

/**
 * A TCP port free on `host` right now, picked by the OS (for a child that must be told its port up front:
 * redis-server, or a process restarted on the same port).
 */
export function freePort(host = "127.0.0.1"): number {
  const probe = Bun.listen({ hostname: host, port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

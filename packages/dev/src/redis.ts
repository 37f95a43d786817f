import { freePort } from "@evgrid/kit/listening";
import type { Supervisor } from "./supervisor.ts";

/**
 * `bun run dev --redis`: REDIS_URL if set (a running Valkey/Redis), else Debian's redis-server started on a
 * free port, in memory only (nothing saved), supervised like the apps. Exits 2 with the fix when it is missing.
 */
export async function startRedis(supervisor: Supervisor, host: string): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const bin = Bun.which("redis-server");
  if (!bin) {
    console.error(
      "dev: --redis needs redis-server: apt-get install -y redis-server (or set REDIS_URL to a running Valkey/Redis)",
    );
    process.exit(2);
  }
  const port = freePort(host);
  const args = [bin, "--port", String(port), "--bind", host, "--save", "", "--appendonly", "no"];
  await supervisor.startUntil("redis", args, process.env as Record<string, string>, 1, (line) =>
    line.includes("Ready to accept connections") ? "ready" : undefined,
  );
  return `redis://${host}:${port}`;
}

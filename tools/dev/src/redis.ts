import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@evgrid/kit/listening";
import type { Supervisor } from "./supervisor.ts";

/**
 * `bun run dev --redis`: REDIS_URL if set (a running Valkey/Redis), else Debian's redis-server started on a
 * free port, in memory only (nothing saved), supervised like the apps. Closed even here: a password made for
 * this run, in a config file only this user may read (never on the command line, where `ps` shows it).
 * Exits 2 with the fix when redis-server is missing. The URL it answers carries the password: print it only
 * through `redactUrl`.
 */
export async function startRedis(supervisor: Supervisor, host: string, dataDir: string): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  const bin = Bun.which("redis-server");
  if (!bin) {
    console.error(
      "dev: --redis needs redis-server: apt-get install -y redis-server (or set REDIS_URL to a running Valkey/Redis)",
    );
    process.exit(2);
  }
  const port = freePort(host);
  const password = randomBytes(24).toString("hex");
  mkdirSync(dataDir, { recursive: true });
  const config = join(dataDir, "redis.conf");
  writeFileSync(
    config,
    [`port ${port}`, `bind ${host}`, 'save ""', "appendonly no", `requirepass ${password}`, ""].join("\n"),
    { mode: 0o600 },
  );
  await supervisor.startUntil("redis", [bin, config], process.env as Record<string, string>, 1, (line) =>
    line.includes("Ready to accept connections") ? "ready" : undefined,
  );
  return `redis://:${password}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "@evgrid/kit/listening";
import type { Supervisor } from "./supervisor.ts";

/** Where `--redis` keeps the balancers' state: a store the user runs, or a redis-server this run starts. */
export type RedisPlan = { url: string } | { bin: string };

/**
 * `bun run dev --redis`, decided before any app starts: REDIS_URL if set (a running Valkey/Redis), else
 * redis-server from PATH. Without either it exits 2 with the fix, in one line.
 */
export function planRedis(): RedisPlan {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  const bin = Bun.which("redis-server");
  if (bin) return { bin };
  console.error(
    "dev: --redis needs redis-server: apt-get install -y redis-server (or set REDIS_URL to a running Valkey/Redis)",
  );
  process.exit(2);
}

/**
 * The store of the plan: the user's URL as it is, or a redis-server started on a free port, in memory only
 * (nothing saved), supervised like the apps. Closed even here: a password made for this run, in a config
 * file only this user may read (never on the command line, where `ps` shows it). The URL it answers carries
 * the password: print it only through `redactUrl`.
 */
export async function startRedis(
  supervisor: Supervisor,
  plan: RedisPlan,
  host: string,
  dataDir: string,
): Promise<string> {
  if ("url" in plan) return plan.url;
  const port = freePort(host);
  const password = randomBytes(24).toString("hex");
  mkdirSync(dataDir, { recursive: true });
  const config = join(dataDir, "redis.conf");
  writeFileSync(
    config,
    [`port ${port}`, `bind ${host}`, 'save ""', "appendonly no", `requirepass ${password}`, ""].join("\n"),
    { mode: 0o600 },
  );
  await supervisor.startUntil(
    "redis",
    [plan.bin, config],
    process.env as Record<string, string>,
    1,
    (line) => (line.includes("Ready to accept connections") ? "ready" : undefined),
  );
  return `redis://:${password}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

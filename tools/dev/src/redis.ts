import { randomBytes } from "node:crypto";
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
 * that redis-server reads from its stdin (`redis-server -`), so it is on no disk and in no process list
 * (nothing here uses CONFIG REWRITE, the one command that would want a config file). Started as a store
 * (Supervisor's StartOptions): out of reach of a terminal's Ctrl-C, stopped after the balancers that use it,
 * and killed by a watchdog should this runner be killed. The URL it answers carries the password: print it
 * only through `redactUrl`.
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
  const config = [
    `port ${port}`,
    `bind ${host}`,
    'save ""',
    "appendonly no",
    // Its working directory: a SAVE asked by hand (or SHUTDOWN SAVE) writes dump.rdb with the run's data, not
    // into whatever directory bun run dev was started from (a repository's root). A quoted string, as
    // redis-server reads one.
    `dir ${JSON.stringify(dataDir)}`,
    `requirepass ${password}`,
    "",
  ];
  await supervisor.startUntil(
    "redis",
    [plan.bin, "-"],
    process.env as Record<string, string>,
    1,
    (line) => (line.includes("Ready to accept connections") ? "ready" : undefined),
    { stdin: config.join("\n"), store: true },
  );
  return `redis://:${password}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

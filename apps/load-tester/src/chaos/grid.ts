import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { listeningUrl } from "@evgrid/kit/listening";
import { runTempDir, spawnApp, startRedis } from "@evgrid/testing";
import type { SessionRecord } from "./check.ts";

type App = Awaited<ReturnType<typeof spawnApp>>;
export type ChaosGrid = Awaited<ReturnType<typeof startChaosGrid>>;

export interface ChaosGridOptions {
  substations: number;
  replicas: number;
  capacityKw: number;
}

/**
 * The grid the chaos run drives, every part its own OS process on 127.0.0.1: a redis-server, the substations
 * (one process hosting every site, each journaled in a temporary directory), balancer replicas sharing the
 * store, and a charge-api over them. Faults act on the real processes. `await using` stops everything.
 */
export async function startChaosGrid(opts: ChaosGridOptions) {
  const token = randomBytes(24).toString("base64url");
  const redis = await startRedis();
  // Removed when the grid stops; one a killed run (kill -9) left is removed by the next run.
  const dataDir = runTempDir("evgrid-chaos-");
  const started: App[] = [];
  let closed = false;
  // Replica restarts under way: the stop waits for them, or a replica still starting outlives the run.
  const restarts = new Set<Promise<void>>();
  try {
    const sites = Array.from(
      { length: opts.substations },
      (_, i) => `substation-${i + 1}=${opts.capacityKw}`,
    );
    const substation = await spawnApp("substation", {
      SERVICE_TOKEN: token,
      SUBSTATION_SITES: sites.join(","),
      SUBSTATION_DATA_DIR: dataDir,
    });
    started.push(substation);
    const substationUrls = await siteUrls(substation, opts.substations);
    const balancerEnv = (port: string) => ({
      SERVICE_TOKEN: token,
      SUBSTATION_URLS: substationUrls.join(","),
      REDIS_URL: redis.url,
      PORT: port,
      ...UNLIMITED_QUOTAS,
    });
    const replicas = await Promise.all(
      Array.from({ length: opts.replicas }, () => spawnApp("balancer", balancerEnv("0"))),
    );
    started.push(...replicas);
    const api = await spawnApp("charge-api", {
      SERVICE_TOKEN: token,
      BALANCER_URLS: replicas.map((b) => b.url).join(","),
      ...UNLIMITED_QUOTAS,
    });
    started.push(api);
    const call = async (url: string, path: string, input?: unknown) => {
      const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      const res = await fetch(`${url}/trpc/${path}${query}`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
      const body = (await res.json()) as { result?: { data: unknown } };
      if (!body.result) throw new Error(`${path} at ${url}: ${JSON.stringify(body)}`);
      return body.result.data;
    };
    return {
      apiUrl: api.url,
      redis,
      replicas,
      /** kill -9 of replica `i`; its restart (same port, the charge-api's list is fixed) by `restartReplica`. */
      killReplica(i: number) {
        replicas[i]?.proc.kill("SIGKILL");
      },
      restartReplica(i: number): Promise<void> {
        const restart = (async () => {
          const old = replicas[i] as App;
          await old.proc.exited;
          // An interrupted run's fault must not start a replica once the grid is stopped.
          if (closed) return;
          const port = new URL(old.url).port;
          const fresh = await spawnApp("balancer", balancerEnv(port));
          if (closed) {
            await fresh[Symbol.asyncDispose]();
            return;
          }
          replicas[i] = fresh;
          started.push(fresh);
        })();
        restarts.add(restart);
        const done = () => restarts.delete(restart);
        restart.then(done, done);
        return restart;
      },
      /** Every replica answers and shares state again (the store back, reconnected). */
      async allSharing(): Promise<boolean> {
        const infos = await Promise.all(
          replicas.map(
            (b) => call(b.url, "stateInfo").catch(() => null) as Promise<{ storeUp?: boolean } | null>,
          ),
        );
        return infos.every((info) => info?.storeUp === true);
      },
      /** Every session of every substation, active or ended, as the checker reads them. */
      async sessions(): Promise<SessionRecord[]> {
        const nowMs = Date.now();
        const lists = await Promise.all(
          substationUrls.map(
            (url) =>
              call(url, "listSessions", { status: "all", limit: 10_000 }) as Promise<{
                sessions: WireSession[];
              }>,
          ),
        );
        return lists.flatMap((l) =>
          l.sessions.map((s) => ({
            sessionId: s.sessionId,
            vehicleId: s.vehicleId,
            idempotencyKey: s.idempotencyKey,
            startedAtMs: Date.parse(s.startedAt),
            endAtMs: Date.parse(s.endedAt ?? s.expectedEndAt ?? "") || nowMs,
          })),
        );
      },
      /**
       * Stops every app, a replica being restarted once it is up (the run exits when this resolves), then
       * the store (resumed first, if a fault paused it), then removes the journals.
       */
      async [Symbol.asyncDispose]() {
        closed = true;
        await Promise.allSettled([...restarts]);
        await stopAll(started);
        await redis[Symbol.asyncDispose]();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(started);
    await redis[Symbol.asyncDispose]();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface WireSession {
  sessionId: string;
  vehicleId: string;
  idempotencyKey: string | null;
  startedAt: string;
  endedAt: string | null;
  expectedEndAt: string | null;
}

async function stopAll(apps: readonly App[]): Promise<void> {
  await Promise.all(apps.map((a) => a[Symbol.asyncDispose]()));
}

/** The URL of every site of a substation process: its "listening" lines, in SUBSTATION_SITES order. */
async function siteUrls(app: App, count: number): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const urls = app
      .stdout()
      .split("\n")
      .map(listeningUrl)
      .filter((u): u is string => u !== undefined);
    if (urls.length >= count) return urls.slice(0, count);
    if (Date.now() > deadline) throw new Error(`substation sites did not all listen:\n${app.stdout()}`);
    await Bun.sleep(20);
  }
}

import { launchApp, observeCalls } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import pkg from "../package.json" with { type: "json" };
import { degradedHome } from "./degraded.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { BalancerEnv } from "./env.ts";
import { MemoryStore } from "./memory.ts";
import { balancerMetrics, storeMetrics } from "./metrics.ts";
import { sessionsOfGrid } from "./rebuild.ts";
import { RedisLink } from "./redis-link.ts";
import { RedisStore } from "./redis-store.ts";
import { balancerRouter } from "./router.ts";
import { SharedQuota } from "./shared-quota.ts";
import { printableStore, type StoreConnection } from "./store-connection.ts";
import { GridView } from "./view.ts";

/** Wires config -> telemetry -> grid view (first refresh done) -> router -> server. */
export function startBalancer(env: BalancerEnv) {
  return launchApp("balancer", pkg.version, env, async ({ telemetry, obs, log }) => {
    const view = new GridView({
      urls: env.SUBSTATION_URLS,
      maxBackoffMs: env.MAX_BACKOFF_MS,
      client: (url, route) =>
        internalClient<SubstationRouter>(url, {
          transport: env.INTERNAL_TRANSPORT,
          route,
          timeoutMs: env.CALL_TIMEOUT_MS,
          observe: observeCalls(obs, "substation"),
          token: env.SERVICE_TOKEN,
        }),
    });
    await view.start(env.LOAD_REFRESH_MS);
    const memory = new MemoryStore(
      env.IDEMPOTENCY_TTL_H * 3_600_000,
      env.MEMORY_HOMES,
      Date.now,
      env.VEHICLE_HOME_GRACE_MS,
    );
    const conn: StoreConnection | undefined = env.REDIS_URL
      ? { url: env.REDIS_URL, password: env.REDIS_PASSWORD, tlsCaFile: env.REDIS_TLS_CA_FILE }
      : undefined;
    // A claim outlives the longest dispatch; past it, a replica that died is taken over (and, the store
    // silent, a vehicle no substation holds may go to its hashed home: the same lease).
    const leaseMs = env.DISPATCH_DEADLINE_MS + env.CALL_TIMEOUT_MS;
    const shared = conn
      ? new RedisStore({
          ...conn,
          keyTtlMs: env.IDEMPOTENCY_TTL_H * 3_600_000,
          leaseMs,
          vehicleGraceMs: env.VEHICLE_HOME_GRACE_MS,
          commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
          fallback: memory,
          sessions: () => sessionsOfGrid(view),
          degradedHome: (req, sinceMs) => degradedHome(view, req, { sinceMs, leaseMs, nowMs: Date.now() }),
          ...storeMetrics(telemetry.meter),
          log,
        })
      : undefined;
    await shared?.start();
    // The quotas' own connection (a quota check never queues behind claims), same timeout and credentials.
    const quotaLink = conn ? new RedisLink(conn, env.REDIS_COMMAND_TIMEOUT_MS) : undefined;
    const connecting = quotaLink?.connect();
    // Connected before the first request when the store answers (a store found down delays nothing more).
    if (shared?.up) await Promise.race([connecting, Bun.sleep(2000)]);
    const sharedQuota =
      quotaLink && shared
        ? new SharedQuota({
            link: quotaLink,
            // A reservation outlives the longest dispatch; past it, a replica that died frees its places.
            reservationTtlMs: env.DISPATCH_DEADLINE_MS + env.CALL_TIMEOUT_MS + 1000,
            // The dispatch store's probe (every second) says whether the store answers.
            storeUp: () => shared.up,
            log,
          })
        : undefined;
    log.info(
      conn
        ? `state shared with other balancer replicas in ${printableStore(conn)}`
        : "state in this process only (no REDIS_URL): run one balancer, or set REDIS_URL for replicas",
    );
    let dispatcher: Dispatcher | undefined;
    const report = balancerMetrics(
      telemetry.meter,
      view,
      () => dispatcher?.waitingCount ?? 0,
      () => shared?.up,
      () => dispatcher?.waitPumps ?? 0,
    );
    dispatcher = new Dispatcher(view, {
      maxTries: env.DISPATCH_MAX_TRIES,
      deadlineMs: env.DISPATCH_DEADLINE_MS,
      callTimeoutMs: env.CALL_TIMEOUT_MS,
      quota: { maxActiveSessions: env.QUOTA_ACTIVE_SESSIONS, maxGridShare: env.QUOTA_GRID_SHARE },
      maxWaiting: env.WAIT_QUEUE_MAX,
      maxWaitingPerOwner: env.QUOTA_WAITING,
      store: shared ?? memory,
      ...(sharedQuota ? { sharedQuota } : {}),
      report,
    });
    const router = balancerRouter(dispatcher);
    // Registered substations that stopped heartbeating leave the grid.
    const expiry = setInterval(() => {
      for (const url of view.expire(env.HEARTBEAT_TIMEOUT_MS))
        log.warn("substation stopped heartbeating; removed", { url });
    }, 1000);
    return {
      router,
      // Ready once a substation can take a session: listed or joined, and answering.
      ready: () => {
        const known = view.status();
        if (known.some((s) => s.healthy)) return null;
        return known.length === 0
          ? "no substation listed or joined"
          : `no healthy substation (${known.length} down)`;
      },
      describe: {
        substations: view
          .status()
          .map((s) => `${s.substationId ?? "?"}@${s.url}${s.healthy ? "" : " (down)"}`),
      },
      stop: () => {
        clearInterval(expiry);
        view.stop();
      },
      // After the calls in flight are answered: they may still claim.
      afterStop: () => {
        shared?.close();
        quotaLink?.close();
      },
      expose: { view, dispatcher },
    };
  });
}

export type RunningBalancer = Awaited<ReturnType<typeof startBalancer>>;

import { dirname, join } from "node:path";
import { idTagFor, launchApp, type Scheduler } from "@evgrid/kit";
import { joinBalancers } from "@evgrid/membership";
import pkg from "../package.json" with { type: "json" };
import { BookingIndex } from "./bookings.ts";
import { CdrExport } from "./cdr.ts";
import type { SubstationEnv } from "./env.ts";
import { Journal } from "./journal.ts";
import { JournalHealth } from "./journal-writes.ts";
import { journalMetrics, stationMetrics } from "./metrics.ts";
import { Retention } from "./retention.ts";
import { substationRouter } from "./router.ts";
import { Station } from "./station.ts";

/**
 * Wires config -> telemetry -> station -> router -> server. Used by main.ts and by tests (port 0).
 * `sharedLinks`: one of several sites of this process (SUBSTATION_SITES), whose links carry each other's
 * calls (@evgrid/link's link-sites.ts); they stop together.
 */
export function startSubstation(
  env: SubstationEnv,
  extra: { scheduler?: Scheduler; sharedLinks?: boolean } = {},
) {
  return launchApp("substation", pkg.version, env, ({ telemetry, log }) => {
    const measures = stationMetrics(telemetry.meter, env.SUBSTATION_ID);
    const dbPath = env.SUBSTATION_DB_PATH ?? join(env.SUBSTATION_DATA_DIR, `${env.SUBSTATION_ID}.sqlite`);
    const journal = new Journal(dbPath, { maxMb: env.SUBSTATION_JOURNAL_MAX_MB, sync: env.SUBSTATION_SYNC });
    const journalMeasures = journalMetrics(telemetry.meter, env.SUBSTATION_ID);
    const journalHealth = new JournalHealth({ count: journalMeasures.onError, log });
    const bookings = new BookingIndex(
      (sessionId) => idTagFor(env.SERVICE_TOKEN, sessionId),
      (sessionId) => {
        try {
          return station.get(sessionId);
        } catch {
          return null;
        }
      },
    );
    const station = new Station({
      id: env.SUBSTATION_ID,
      capacityKw: env.SUBSTATION_CAPACITY_KW,
      limitKw: env.SUBSTATION_LIMIT_KW ?? null,
      onStart: (session) => {
        measures.onStart();
        bookings.add(session.sessionId);
      },
      onEnd: (session) => {
        measures.onEnd(session);
        bookings.remove(session.sessionId);
      },
      onRefuse: measures.onRefuse,
      journal,
      journalHealth,
      idempotencyTtlMs: env.IDEMPOTENCY_TTL_H * 3_600_000,
      checkpointMs: env.SUBSTATION_CHECKPOINT_MS,
      commitGrouping: {
        windowMs: env.SUBSTATION_COMMIT_WINDOW_MS,
        maxEvents: env.SUBSTATION_COMMIT_MAX_EVENTS,
      },
      reshareMinMs: env.SUBSTATION_RESHARE_MIN_MS,
      // Tests make session ends late (a substation whose event loop stalls).
      ...(extra.scheduler ? { scheduler: extra.scheduler } : {}),
    });
    const recovery = station.recover();
    // Resumed sessions keep the idTags their owners were given.
    for (const session of station.list("active", Number.MAX_SAFE_INTEGER))
      bookings.add(session.sessionId, true);
    const cdrDir =
      env.SUBSTATION_CDR_DIR ?? (dbPath === ":memory:" ? undefined : join(dirname(dbPath), "cdr"));
    const retention = new Retention({
      journal,
      retentionMs: env.SUBSTATION_RETENTION_H * 3_600_000,
      ...(cdrDir ? { cdr: new CdrExport(cdrDir, env.SUBSTATION_ID, journal) } : {}),
      health: journalHealth,
      onExported: journalMeasures.onExported,
      onPruned: journalMeasures.onPruned,
    });
    retention.start();
    let membership: ReturnType<typeof joinBalancers> | undefined;
    let linkGroup: string | null = null;
    measures.observe(station);
    journalMeasures.observePending(() => station.pendingJournalWrites);
    journalMeasures.observeAppends(() => journal.stats);
    if (recovery.resumed + recovery.endedWhileDown > 0)
      log.info("recovered sessions from the journal", { dbPath, ...recovery });
    return {
      router: substationRouter(station, bookings, () => linkGroup),
      linkSite: extra.sharedLinks ? station.id : undefined,
      ready: () => {
        const failing = journalHealth.failingOps();
        return failing.length === 0 ? null : `journal writes failing: ${failing.join(", ")}`;
      },
      describe: {
        id: station.id,
        capacityKw: station.capacityKw,
        limitKw: station.limit,
        journal: dbPath,
        sync: env.SUBSTATION_SYNC,
        journalMaxMb: env.SUBSTATION_JOURNAL_MAX_MB ?? null,
        retentionH: env.SUBSTATION_RETENTION_H,
        cdr: cdrDir ?? null,
      },
      // Once listening, join the balancers (if any are named) and keep heartbeating.
      afterStart: (server) => {
        linkGroup = server.linkGroup;
        if (env.BALANCER_URLS.length === 0) return;
        const advertiseUrl = env.ADVERTISE_URL ?? server.url.replace("//0.0.0.0:", "//127.0.0.1:");
        membership = joinBalancers({
          balancerUrls: env.BALANCER_URLS,
          discovery: env.BALANCER_DISCOVERY,
          advertiseUrl,
          token: env.SERVICE_TOKEN,
          intervalMs: env.HEARTBEAT_MS,
          log,
        });
      },
      // Runs before the server stops: leave the balancers, and take no new sessions while in-flight calls
      // finish (not persisted: a restarted substation takes sessions again unless an operator drained it).
      stop: async () => {
        await membership?.stop(true);
        station.setDraining(true, false);
      },
      afterStop: async () => {
        await retention.stop();
        station.close();
        journal.close();
      },
      expose: {
        station,
        bookings,
        /** Stops heartbeating without deregistering: what a crash looks like to the balancers. */
        stopHeartbeats: () => membership?.stop(false),
      },
    };
  });
}

export type RunningSubstation = Awaited<ReturnType<typeof startSubstation>>;

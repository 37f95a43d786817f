import { launchApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { GatewayEnv } from "./env.ts";
import { Gateway } from "./gateway.ts";
import { Grid } from "./grid.ts";
import { gatewayMetrics } from "./metrics.ts";
import { serveOcpp } from "./ocpp-server.ts";
import { Registry } from "./registry.ts";
import { gatewayRouter } from "./router.ts";

/**
 * Wires config -> telemetry -> registry -> the grid's links (balancer, substations' power events) -> the
 * OCPP endpoint (OCPP_PORT) and the admin tRPC router (PORT).
 */
export function startGateway(env: GatewayEnv) {
  return launchApp("ocpp-gateway", pkg.version, env, async ({ telemetry, obs, log }) => {
    const registry = new Registry(env.OCPP_DB_PATH, { maxMb: env.OCPP_DB_MAX_MB, argon2: env.argon2 });
    const metrics = gatewayMetrics(telemetry.meter);
    let gateway: Gateway | undefined;
    const grid = new Grid({
      balancerUrls: env.BALANCER_URLS,
      token: env.SERVICE_TOKEN,
      transport: env.INTERNAL_TRANSPORT,
      timeoutMs: env.OCPP_CALL_TIMEOUT_MS,
      obs,
      onPower: (e) => gateway?.onPower(e),
      onError: (substationId, err) =>
        log.warn("power events interrupted", { substationId, error: err.message }),
    });
    gateway = new Gateway(
      registry,
      grid,
      {
        heartbeatS: env.OCPP_HEARTBEAT_S,
        meterIntervalS: env.OCPP_METER_INTERVAL_S,
        callTimeoutMs: env.OCPP_CALL_TIMEOUT_MS,
        offlineGraceMs: env.OCPP_OFFLINE_GRACE_S * 1000,
        walkInMaxS: env.OCPP_WALKIN_MAX_S,
        walkInMinKw: env.OCPP_WALKIN_MIN_KW,
        maxTransactions: env.OCPP_MAX_TRANSACTIONS,
        profileBackoffMs: env.OCPP_PROFILE_BACKOFF_MS,
        profileBackoffMaxMs: env.OCPP_PROFILE_BACKOFF_MAX_MS,
        meterSlackWh: env.OCPP_METER_SLACK_WH,
        meterSilentMs: env.OCPP_METER_SILENT_S * 1000,
        reclaimMaxSamples: env.OCPP_RECLAIM_MAX_SAMPLES,
        needsMinGapMs: env.OCPP_NEEDS_MIN_GAP_MS,
        overdraw: {
          windowMs: env.OCPP_OVERDRAW_S * 1000,
          marginRatio: env.OCPP_OVERDRAW_MARGIN_PCT / 100,
          marginKw: env.OCPP_OVERDRAW_MARGIN_KW,
        },
        reclaim: {
          windowMs: env.OCPP_RECLAIM_WINDOW_S * 1000,
          belowRatio: env.OCPP_RECLAIM_RATIO,
          marginKw: env.OCPP_RECLAIM_MARGIN_KW,
        },
      },
      metrics,
      { tracer: telemetry.tracer, tracing: telemetry.tracing },
      log,
    );
    const gw = gateway;
    metrics.observe({
      connected: () => gw.connectedCount,
      unmanaged: () => gw.unmanagedCount(),
      reclaimedKw: () => gw.reclaimedKw(),
      transactions: () => gw.txCounts(),
      stopsPending: () => gw.stopsPending,
    });
    await grid.start();
    const resumed = gw.restore();
    const ocpp = await serveOcpp(
      {
        host: env.HOST,
        port: env.OCPP_PORT,
        callTimeoutMs: env.OCPP_CALL_TIMEOUT_MS,
        maxChargers: env.OCPP_MAX_CHARGERS,
        maxBadMessages: env.OCPP_MAX_BAD_MESSAGES,
        messageRate: { ratePerS: env.OCPP_MESSAGES_PER_S, burst: env.OCPP_MESSAGE_BURST },
        auth: env.ocppAuth,
        trustedProxies: env.OCPP_TRUST_PROXY,
      },
      registry,
      gw,
      metrics,
      log,
    );
    let reconciling = false;
    const reconcile = setInterval(() => {
      if (reconciling) return;
      reconciling = true;
      void gw.reconcile().finally(() => {
        reconciling = false;
      });
    }, env.OCPP_RECONCILE_S * 1000);
    return {
      router: gatewayRouter(registry, gw, ocpp.url),
      ready: () => (registry.isOpen() ? null : "the charge point registry is not open"),
      describe: { ocpp: ocpp.url, chargePoints: registry.all().length, resumedTransactions: resumed },
      stop: async () => {
        clearInterval(reconcile);
        await gw.close();
        await ocpp.close();
        grid.stop();
      },
      afterStop: () => registry.close(),
      expose: { gateway: gw, grid, registry, ocppUrl: ocpp.url, ocppPort: ocpp.port },
    };
  });
}

export type RunningGateway = Awaited<ReturnType<typeof startGateway>>;

import { randomBytes } from "node:crypto";
import type { BalancerRouter } from "@evgrid/balancer";
import { startBalancer } from "@evgrid/balancer/app";
import { readEnv as balancerEnv } from "@evgrid/balancer/env";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { startChargeApi } from "@evgrid/charge-api/app";
import { readEnv as chargeApiEnv } from "@evgrid/charge-api/env";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import { type RunningSubstation, startSubstation } from "@evgrid/substation/app";
import { readEnv as substationEnv } from "@evgrid/substation/env";

export interface GridOptions {
  /** One substation per entry, ids substation-1.. in order. */
  capacitiesKw: number[];
  balancer?: Record<string, string>;
  /** Share a token with another grid (default: a new one). */
  serviceToken?: string;
  chargeApi?: Record<string, string>;
  /** The apps' own default quotas; without, quotas never bind (tests of other behaviour send many requests). */
  defaultQuotas?: boolean;
  /** The substations as the sites of one process (SUBSTATION_SITES): their links carry each other's calls. */
  sharedLinks?: boolean;
  /** More settings for substation `i` (0-based), e.g. a journal on disk to restart it with. */
  substationEnv?: (i: number) => Record<string, string>;
}

/**
 * A whole grid on 127.0.0.1 port 0: every app has its own Bun server and they talk real HTTP, exactly as in
 * production, only inside one test process. `await using` stops everything.
 */
export async function startGrid(opts: GridOptions) {
  const serviceToken = opts.serviceToken ?? randomBytes(24).toString("base64url");
  const quotas = opts.defaultQuotas ? {} : UNLIMITED_QUOTAS;
  const envOf = (i: number, port = "0") => ({
    SUBSTATION_ID: `substation-${i + 1}`,
    SUBSTATION_CAPACITY_KW: String(opts.capacitiesKw[i]),
    PORT: port,
    LOG_QUIET: "true",
    SERVICE_TOKEN: serviceToken,
    SUBSTATION_DB_PATH: ":memory:",
    ...opts.substationEnv?.(i),
  });
  const substations: RunningSubstation[] = await Promise.all(
    opts.capacitiesKw.map((_, i) =>
      startSubstation(substationEnv(envOf(i)), { sharedLinks: opts.sharedLinks === true }),
    ),
  );
  const balancer = await startBalancer(
    balancerEnv({
      PORT: "0",
      SUBSTATION_URLS: substations.map((s) => s.url).join(","),
      LOG_QUIET: "true",
      SERVICE_TOKEN: serviceToken,
      ...quotas,
      ...opts.balancer,
    }),
  );
  const api = await startChargeApi(
    chargeApiEnv({
      PORT: "0",
      BALANCER_URL: balancer.url,
      LOG_QUIET: "true",
      SERVICE_TOKEN: serviceToken,
      ...quotas,
      ...opts.chargeApi,
    }),
  );
  return {
    serviceToken,
    substations,
    balancer,
    api,
    client: internalClient<ChargeApiRouter>(api.url, { timeoutMs: 10_000 }),
    /** The balancer as an operator sees it (service token): membership, errors, every session. */
    operator: internalClient<BalancerRouter>(balancer.url, { timeoutMs: 10_000, token: serviceToken }),
    /**
     * Stops substation `i` and starts it again in place (same port, same settings): with a journal on disk
     * (`substationEnv`), its sessions come back; what it held only in memory does not.
     */
    async restartSubstation(i: number) {
      const old = substations[i];
      if (!old) throw new Error(`no substation ${i}`);
      await old.stop();
      substations[i] = await startSubstation(substationEnv(envOf(i, new URL(old.url).port)), {
        sharedLinks: opts.sharedLinks === true,
      });
    },
    async [Symbol.asyncDispose]() {
      await api.stop();
      await balancer.stop();
      await Promise.all(substations.map((s) => s.stop()));
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests poke at arbitrary JSON error bodies.
export type Json = any;

/** POST a tRPC mutation as curl or k6 would: plain JSON, no client library. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}
export * from "./charge-point.ts";
export { meterValue } from "./charge-point-config.ts";
export * from "./dev-run.ts";
export * from "./eventually.ts";
export * from "./faulty-proxy.ts";
export * from "./free-port.ts";
export * from "./gateway.ts";
export * from "./otlp-sink.ts";
export * from "./process-stats.ts";
export * from "./processes.ts";
export * from "./redis.ts";
export * from "./stack.ts";
export * from "./temp.ts";
export * from "./tool-job.ts";

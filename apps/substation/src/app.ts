import { type AppServer, createLogger, createMetrics, serveApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { SubstationEnv } from "./env.ts";
import { stationMetrics } from "./metrics.ts";
import { substationRouter } from "./router.ts";
import { Station } from "./station.ts";

export interface RunningSubstation extends AppServer {
  station: Station;
}

/** Wires config -> station -> router -> server. Used by main.ts and by tests (port 0). */
export function startSubstation(env: SubstationEnv): RunningSubstation {
  const log = createLogger(env.LOG_QUIET);
  const metrics = createMetrics("substation", pkg.version);
  const measures = stationMetrics(metrics, env.SUBSTATION_ID);
  const station = new Station({
    id: env.SUBSTATION_ID,
    capacityKw: env.SUBSTATION_CAPACITY_KW,
    limitKw: env.SUBSTATION_LIMIT_KW ?? null,
    onEnd: measures.onEnd,
  });
  measures.observe(station);
  const server = serveApp({
    service: "substation",
    version: pkg.version,
    router: substationRouter(station),
    hostname: env.HOST,
    port: env.PORT,
    metrics,
    log,
  });
  log.info("substation listening", {
    id: station.id,
    url: server.url,
    capacityKw: station.capacityKw,
    limitKw: station.limit,
  });
  return {
    ...server,
    station,
    async stop() {
      station.close();
      await server.stop();
      await metrics.shutdown();
    },
  };
}

import { launchApp } from "@evgrid/kit";
import pkg from "../package.json" with { type: "json" };
import type { SubstationEnv } from "./env.ts";
import { stationMetrics } from "./metrics.ts";
import { substationRouter } from "./router.ts";
import { Station } from "./station.ts";

/** Wires config -> telemetry -> station -> router -> server. Used by main.ts and by tests (port 0). */
export function startSubstation(env: SubstationEnv) {
  return launchApp("substation", pkg.version, env, ({ telemetry }) => {
    const measures = stationMetrics(telemetry.meter, env.SUBSTATION_ID);
    const station = new Station({
      id: env.SUBSTATION_ID,
      capacityKw: env.SUBSTATION_CAPACITY_KW,
      limitKw: env.SUBSTATION_LIMIT_KW ?? null,
      onStart: measures.onStart,
      onEnd: measures.onEnd,
      onRefuse: measures.onRefuse,
    });
    measures.observe(station);
    return {
      router: substationRouter(station),
      describe: { id: station.id, capacityKw: station.capacityKw, limitKw: station.limit },
      stop: () => station.close(),
      expose: { station },
    };
  });
}

export type RunningSubstation = Awaited<ReturnType<typeof startSubstation>>;

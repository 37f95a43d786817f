import { randomBytes } from "node:crypto";
import { internalClient } from "@evgrid/link";
import type { GatewayRouter } from "@evgrid/ocpp-gateway";
import { startGateway } from "@evgrid/ocpp-gateway/app";
import { readEnv } from "@evgrid/ocpp-gateway/env";
import { type ChargePointOptions, type OcppVersion, SimulatedChargePoint } from "./charge-point.ts";
import { eventually } from "./eventually.ts";

/**
 * An OCPP gateway on 127.0.0.1 port 0 (both its ports) beside a grid of startGrid, with helpers to register
 * and connect simulated charge points. `await using` stops the chargers, then the gateway.
 */
export async function startOcppGateway(
  grid: { balancer: { url: string }; serviceToken: string },
  env: Record<string, string> = {},
) {
  const gateway = await startGateway(
    readEnv({
      PORT: "0",
      OCPP_PORT: "0",
      BALANCER_URL: grid.balancer.url,
      SERVICE_TOKEN: grid.serviceToken,
      OCPP_DB_PATH: ":memory:",
      LOG_QUIET: "true",
      ...env,
    }),
  );
  const admin = internalClient<GatewayRouter>(gateway.url, { timeoutMs: 10_000, token: grid.serviceToken });
  const chargers: SimulatedChargePoint[] = [];
  return {
    gateway,
    admin,
    chargers,
    /** Registers a charge point and connects a simulated one (booted unless `boot: false`). */
    async charger(
      id: string,
      opts: {
        substationId?: string;
        maxKw?: number;
        connectors?: number;
        protocol?: OcppVersion;
        boot?: boolean;
        /** How the simulated charger answers profiles (slowly, not at all...). */
        behaviour?: Pick<
          ChargePointOptions,
          | "profileAnswer"
          | "profileDelayMs"
          | "stopWhenAsked"
          | "onAccepted"
          | "configAnswer"
          | "configDelayMs"
        >;
      } = {},
    ) {
      const password = randomBytes(12).toString("base64url");
      await admin.registerChargePoint.mutate({
        chargePointId: id,
        substationId: opts.substationId ?? "substation-1",
        password,
        maxKw: opts.maxKw ?? 11,
        ...(opts.connectors === undefined ? {} : { connectors: opts.connectors }),
      });
      const cp = new SimulatedChargePoint({
        url: gateway.ocppUrl,
        id,
        password,
        protocol: opts.protocol ?? "ocpp1.6",
        ...opts.behaviour,
      });
      chargers.push(cp);
      if (opts.boot === false) await cp.client.connect();
      else await cp.connect();
      return cp;
    },
    /** The session of a charge point's first transaction once it is in `state` ("" while bound to none). */
    async txSession(chargePointId: string, state: "charging" | "waiting" = "charging"): Promise<string> {
      let sessionId = "";
      await eventually(async () => {
        const charger = (await admin.listChargePoints.query()).find((c) => c.chargePointId === chargePointId);
        const tx = charger?.transactions[0];
        if (tx?.state !== state)
          throw new Error(`${chargePointId}: transaction ${tx?.state ?? "none"}, not ${state}`);
        sessionId = tx.sessionId ?? "";
      });
      return sessionId;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(chargers.map((c) => c.close()));
      await gateway.stop();
    },
  };
}

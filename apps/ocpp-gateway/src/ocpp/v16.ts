/** OCPP 1.6J: its messages into the gateway's version-free events, and its calls out of the gateway's asks. */
import { createRPCError, type RPCClient } from "ocpp-rpc";
import type { ChargerEvents, ChargerLink } from "../model.ts";
import { METER_MEASURANDS, readSamples } from "./meter-values.ts";
import { OcppConnection, type OcppContext, profileIdOf } from "./rpc.ts";
import type * as M from "./v16-types.ts";

type In = {
  BootNotification: { req: M.BootNotificationRequest; res: M.BootNotificationResponse };
  Heartbeat: { req: M.HeartbeatRequest; res: M.HeartbeatResponse };
  StatusNotification: { req: M.StatusNotificationRequest; res: M.StatusNotificationResponse };
  Authorize: { req: M.AuthorizeRequest; res: M.AuthorizeResponse };
  MeterValues: { req: M.MeterValuesRequest; res: M.MeterValuesResponse };
  StartTransaction: { req: M.StartTransactionRequest; res: M.StartTransactionResponse };
  StopTransaction: { req: M.StopTransactionRequest; res: M.StopTransactionResponse };
};
type Out = {
  SetChargingProfile: { req: M.SetChargingProfileRequest; res: M.SetChargingProfileResponse };
  RemoteStopTransaction: { req: M.RemoteStopTransactionRequest; res: M.RemoteStopTransactionResponse };
  ChangeConfiguration: { req: M.ChangeConfigurationRequest; res: M.ChangeConfigurationResponse };
};

const reading = (values: M.MeterValuesRequest["meterValue"]) =>
  readSamples(
    values.flatMap((mv) =>
      mv.sampledValue.map((sv) => ({
        measurand: sv.measurand,
        phase: sv.phase,
        value: Number(sv.value),
        unit: sv.unit,
      })),
    ),
  );

/** Serves a 1.6J charger. Any action not registered here is answered NotImplemented by the library. */
export function serve16(
  client: RPCClient,
  chargePointId: string,
  events: ChargerEvents,
  ctx: OcppContext,
): ChargerLink {
  const conn = new OcppConnection<In, Out>(client, chargePointId, ctx, () => events.booted);
  conn.handle("BootNotification", async (_req, after) => {
    const { answer, afterAnswer } = await events.boot();
    if (afterAnswer) after(afterAnswer);
    return {
      status: "Accepted",
      currentTime: new Date(answer.atMs).toISOString(),
      interval: answer.heartbeatS,
    };
  });
  conn.handle("Heartbeat", () => ({ currentTime: new Date().toISOString() }));
  conn.handle("StatusNotification", (req) => {
    events.status(req.connectorId, req.status);
    return {};
  });
  conn.handle("Authorize", (req) => ({ idTagInfo: { status: events.authorize(req.idTag) } }));
  conn.handle("MeterValues", (req) => {
    const transactionId = req.transactionId === undefined ? undefined : String(req.transactionId);
    events.meter({ connectorId: req.connectorId, transactionId, reading: reading(req.meterValue) });
    return {};
  });
  conn.handle("StartTransaction", (req, after) => {
    const { answer, afterAnswer } = events.start({
      connectorId: req.connectorId,
      transactionId: null, // the backend hands 1.6 transaction ids out
      token: req.idTag,
      meterStartWh: req.meterStart,
      openUnidentified: false,
    });
    if (answer.kind === "refused") throw createRPCError("GenericError", answer.message);
    // Not a connector of this charge point: Invalid, so the charger ends it itself (no retry, as a CALLERROR would).
    if (answer.kind === "bad-connector") {
      return { transactionId: Number(answer.transactionId), idTagInfo: { status: "Invalid" } };
    }
    if (afterAnswer) after(afterAnswer);
    return { transactionId: Number(answer.transactionId), idTagInfo: { status: answer.token ?? "Accepted" } };
  });
  conn.handle("StopTransaction", async (req) => {
    // An unknown one (already ended, e.g. after the offline grace) is acknowledged, or the charger retries forever.
    await events.update({
      transactionId: String(req.transactionId),
      token: undefined,
      reading: { energyWh: req.meterStop },
      ended: true,
    });
    return {};
  });

  return {
    protocol: "ocpp1.6",
    async setLimit(connectorId, transactionId, watts, parent) {
      const r = await conn.call(
        "SetChargingProfile",
        {
          connectorId,
          csChargingProfiles: {
            chargingProfileId: profileIdOf(connectorId),
            transactionId: Number(transactionId),
            stackLevel: 0,
            chargingProfilePurpose: "TxProfile",
            chargingProfileKind: "Relative",
            chargingSchedule: {
              chargingRateUnit: "W",
              chargingSchedulePeriod: [{ startPeriod: 0, limit: watts }],
            },
          },
        },
        parent,
      );
      return r.status;
    },
    async setDefaultLimit(watts) {
      const r = await conn.call(
        "SetChargingProfile",
        {
          connectorId: 0,
          csChargingProfiles: {
            chargingProfileId: profileIdOf(0),
            stackLevel: 0,
            chargingProfilePurpose: "TxDefaultProfile",
            chargingProfileKind: "Relative",
            chargingSchedule: {
              chargingRateUnit: "W",
              chargingSchedulePeriod: [{ startPeriod: 0, limit: watts }],
            },
          },
        },
        null,
      );
      return r.status;
    },
    async requestStop(transactionId, parent) {
      const r = await conn.call("RemoteStopTransaction", { transactionId: Number(transactionId) }, parent);
      return r.status;
    },
    async configureMeterReports(intervalS) {
      const statuses: string[] = [];
      const settings: [string, string][] = [
        ["MeterValueSampleInterval", String(intervalS)],
        ["MeterValuesSampledData", METER_MEASURANDS],
      ];
      for (const [key, value] of settings) {
        statuses.push((await conn.call("ChangeConfiguration", { key, value }, null)).status);
      }
      return statuses.find((s) => s !== "Accepted") ?? "Accepted";
    },
    async configureStopOnInvalidId() {
      const key = "StopTransactionOnInvalidId";
      return (await conn.call("ChangeConfiguration", { key, value: "true" }, null)).status;
    },
    close: (code, reason) =>
      client.close({ code, reason }).then(
        () => undefined,
        () => undefined,
      ),
    onClose: (fn) => client.on("close", fn),
  };
}

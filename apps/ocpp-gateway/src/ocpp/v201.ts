/** OCPP 2.0.1: its messages into the gateway's version-free events, and its calls out of the gateway's asks. */
import { createRPCError, type RPCClient } from "ocpp-rpc";
import type { ChargerEvents, ChargerLink, StartRefusal, TokenStatus } from "../model.ts";
import { evNeedsOf } from "./ev-needs.ts";
import { METER_MEASURANDS, readSamples } from "./meter-values.ts";
import { OcppConnection, type OcppContext, profileIdOf } from "./rpc.ts";
import type * as M from "./v201-types.ts";

type In = {
  BootNotification: { req: M.BootNotificationRequest; res: M.BootNotificationResponse };
  Heartbeat: { req: M.HeartbeatRequest; res: M.HeartbeatResponse };
  StatusNotification: { req: M.StatusNotificationRequest; res: M.StatusNotificationResponse };
  Authorize: { req: M.AuthorizeRequest; res: M.AuthorizeResponse };
  MeterValues: { req: M.MeterValuesRequest; res: M.MeterValuesResponse };
  TransactionEvent: { req: M.TransactionEventRequest; res: M.TransactionEventResponse };
  NotifyEVChargingNeeds: { req: M.NotifyEVChargingNeedsRequest; res: M.NotifyEVChargingNeedsResponse };
};
type Out = {
  SetChargingProfile: { req: M.SetChargingProfileRequest; res: M.SetChargingProfileResponse };
  RequestStopTransaction: { req: M.RequestStopTransactionRequest; res: M.RequestStopTransactionResponse };
  SetVariables: { req: M.SetVariablesRequest; res: M.SetVariablesResponse };
};

/** A refused TransactionEvent Started, in 2.0.1's error codes. */
const REFUSAL_CODE: Record<StartRefusal, string> = {
  "connector-missing": "OccurrenceConstraintViolation",
  "connector-busy": "GenericError",
  "too-many-transactions": "GenericError",
  "charge-point-full": "GenericError",
  "transaction-id-reused": "PropertyConstraintViolation",
  "transaction-id-on-other-connector": "PropertyConstraintViolation",
};

const reading = (values: M.MeterValueType[] | undefined) =>
  readSamples(
    (values ?? []).flatMap((mv) =>
      mv.sampledValue.map((sv) => ({
        measurand: sv.measurand,
        phase: sv.phase,
        value: sv.value * 10 ** (sv.unitOfMeasure?.multiplier ?? 0),
        unit: sv.unitOfMeasure?.unit,
      })),
    ),
  );

const tokenInfo = (status: TokenStatus | undefined): M.TransactionEventResponse =>
  status === undefined ? {} : { idTokenInfo: { status } };

/** Serves a 2.0.1 charger. Any action not registered here is answered NotImplemented by the library. */
export function serve201(
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
    events.status(req.evseId, req.connectorStatus);
    return {};
  });
  conn.handle("Authorize", (req) => ({ idTokenInfo: { status: events.authorize(req.idToken.idToken) } }));
  conn.handle("MeterValues", (req) => {
    events.meter({ connectorId: req.evseId, transactionId: undefined, reading: reading(req.meterValue) });
    return {};
  });
  // Accepted once a bound transaction takes them, Processing while it is being bound (taken once it is); the
  // car may send them again (it does on renegotiation).
  conn.handle("NotifyEVChargingNeeds", (req) => ({ status: events.needs(evNeedsOf(req, Date.now())) }));
  conn.handle("TransactionEvent", async (req, after) => {
    const token = req.idToken?.idToken;
    const transactionId = req.transactionInfo.transactionId;
    const meter = reading(req.meterValue);
    if (req.eventType !== "Started") {
      const ended = req.eventType === "Ended";
      const connectorId = req.evse?.id;
      return tokenInfo(await events.update({ transactionId, connectorId, token, reading: meter, ended }));
    }
    const { answer, afterAnswer } = events.start({
      connectorId: req.evse?.id,
      transactionId,
      token,
      meterStartWh: meter.energyWh,
      // A 2.0.1 transaction exists from the plug-in, before (or without) an accepted token.
      openUnidentified: true,
    });
    if (answer.kind === "refused") throw createRPCError(REFUSAL_CODE[answer.reason], answer.message);
    if (answer.kind === "bad-connector") throw createRPCError("PropertyConstraintViolation", answer.message);
    if (afterAnswer) after(afterAnswer);
    return tokenInfo(answer.token);
  });

  return {
    protocol: "ocpp2.0.1",
    async setLimit(evseId, transactionId, watts, parent) {
      const id = profileIdOf(evseId);
      const period: [M.ChargingSchedulePeriodType] = [{ startPeriod: 0, limit: watts }];
      const r = await conn.call(
        "SetChargingProfile",
        {
          evseId,
          chargingProfile: {
            id,
            stackLevel: 0,
            chargingProfilePurpose: "TxProfile",
            chargingProfileKind: "Relative",
            transactionId,
            chargingSchedule: [{ id, chargingRateUnit: "W", chargingSchedulePeriod: period }],
          },
        },
        parent,
      );
      return r.status;
    },
    async setDefaultLimit(watts) {
      const id = profileIdOf(0);
      const period: [M.ChargingSchedulePeriodType] = [{ startPeriod: 0, limit: watts }];
      const r = await conn.call(
        "SetChargingProfile",
        {
          evseId: 0,
          chargingProfile: {
            id,
            stackLevel: 0,
            chargingProfilePurpose: "TxDefaultProfile",
            chargingProfileKind: "Relative",
            chargingSchedule: [{ id, chargingRateUnit: "W", chargingSchedulePeriod: period }],
          },
        },
        null,
      );
      return r.status;
    },
    async requestStop(transactionId, parent) {
      const r = await conn.call("RequestStopTransaction", { transactionId }, parent);
      return r.status;
    },
    async configureMeterReports(intervalS) {
      const component = { name: "SampledDataCtrlr" };
      const r = await conn.call(
        "SetVariables",
        {
          setVariableData: [
            { component, variable: { name: "TxUpdatedInterval" }, attributeValue: String(intervalS) },
            { component, variable: { name: "TxUpdatedMeasurands" }, attributeValue: METER_MEASURANDS },
          ],
        },
        null,
      );
      return r.setVariableResult.map((v) => v.attributeStatus).find((s) => s !== "Accepted") ?? "Accepted";
    },
    async configureStopOnInvalidId() {
      const setting = {
        component: { name: "TxCtrlr" },
        variable: { name: "StopTxOnInvalidId" },
        attributeValue: "true",
      };
      const r = await conn.call("SetVariables", { setVariableData: [setting] }, null);
      return r.setVariableResult[0]?.attributeStatus ?? "Rejected";
    },
    close: (code, reason) =>
      client.close({ code, reason }).then(
        () => undefined,
        () => undefined,
      ),
    onClose: (fn) => client.on("close", fn),
  };
}

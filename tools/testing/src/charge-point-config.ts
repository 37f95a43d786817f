import { createRPCError, type RPCClient } from "ocpp-rpc";

/** How a simulated charger answers configuration calls: "NotImplemented" is a CALLERROR (no such call). */
export type ConfigAnswer = "Accepted" | "Rejected" | "NotImplemented";

/**
 * Serves ChangeConfiguration (1.6) and SetVariables (2.0.1): each setting it accepts is kept in `settings`,
 * by its 1.6 key, or as `<component>.<variable>` for 2.0.1 (e.g. `SampledDataCtrlr.TxUpdatedInterval`).
 */
export function serveConfiguration(
  client: RPCClient,
  v16: boolean,
  settings: Map<string, string>,
  /** `configDelayMs`: before answering, it waits this long (a charger writing its settings to flash). */
  opts: { configAnswer?: ConfigAnswer; configDelayMs?: number },
): void {
  const { configAnswer: answer = "Accepted", configDelayMs: delayMs = 0 } = opts;
  const refuseOr = (status: string) => {
    if (answer === "NotImplemented") throw createRPCError("NotImplemented", "no configuration here");
    return answer === "Accepted" ? status : "Rejected";
  };
  if (v16) {
    client.handle("ChangeConfiguration", async ({ params }) => {
      await Bun.sleep(delayMs);
      // The library validated the payload against the OCPP schema (strict mode).
      const { key, value } = params as { key: string; value: string };
      const status = refuseOr("Accepted");
      if (status === "Accepted") settings.set(key, value);
      return { status };
    });
    return;
  }
  type Data = { component: { name: string }; variable: { name: string }; attributeValue: string };
  client.handle("SetVariables", async ({ params }) => {
    await Bun.sleep(delayMs);
    return {
      setVariableResult: (params as { setVariableData: Data[] }).setVariableData.map((d) => {
        const attributeStatus = refuseOr("Accepted");
        if (attributeStatus === "Accepted")
          settings.set(`${d.component.name}.${d.variable.name}`, d.attributeValue);
        return { attributeStatus, component: d.component, variable: d.variable };
      }),
    };
  });
}

/** One meter value: the energy register (Wh) and/or the power drawn (W), as each version writes them. */
export function meterValue(v16: boolean, r: { energyWh?: number; powerW?: number }) {
  const sampled: Record<string, unknown>[] = [];
  const add = (value: number, measurand: string, unit: string) =>
    sampled.push(
      v16 ? { value: String(value), measurand, unit } : { value, measurand, unitOfMeasure: { unit } },
    );
  if (r.energyWh !== undefined) add(r.energyWh, "Energy.Active.Import.Register", "Wh");
  if (r.powerW !== undefined) add(r.powerW, "Power.Active.Import", "W");
  return { timestamp: new Date().toISOString(), sampledValue: sampled };
}

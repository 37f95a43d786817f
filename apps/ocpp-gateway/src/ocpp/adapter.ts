import type { RPCClient } from "ocpp-rpc";
import type { ChargerEvents, ChargerLink } from "../model.ts";
import type { OcppContext } from "./rpc.ts";
import { serve16 } from "./v16.ts";
import { serve201 } from "./v201.ts";

/** Serves a connection in the OCPP version it agreed on (ocpp-rpc only accepts ocpp1.6 and ocpp2.0.1). */
export function ocppAdapter(ctx: OcppContext) {
  return (client: RPCClient, chargePointId: string, events: ChargerEvents): ChargerLink =>
    client.protocol === "ocpp2.0.1"
      ? serve201(client, chargePointId, events, ctx)
      : serve16(client, chargePointId, events, ctx);
}

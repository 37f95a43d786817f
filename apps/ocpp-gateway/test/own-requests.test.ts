/**
 * Our own SetChargingProfile requests are not validated by ocpp-rpc on their way out (src/ocpp/validators.ts):
 * the adapters' requests, over any limit, connector and transaction they can be given, satisfy the official
 * schema (checked here with ocpp-rpc's own full validator), so a charger is never sent one it must refuse.
 */
import { expect, test } from "bun:test";
import { trace } from "@opentelemetry/api";
import fc from "fast-check";
import { createValidator, type RPCClient } from "ocpp-rpc";
import ocpp16 from "ocpp-rpc/lib/schemas/ocpp1_6.json";
import ocpp201 from "ocpp-rpc/lib/schemas/ocpp2_0_1.json";
import type { GatewayMetrics } from "../src/metrics.ts";
import type { ChargerEvents } from "../src/model.ts";
import type { OcppContext } from "../src/ocpp/rpc.ts";
import { serve16 } from "../src/ocpp/v16.ts";
import { serve201 } from "../src/ocpp/v201.ts";
import { OWN_REQUESTS } from "../src/ocpp/validators.ts";

/** A connection that records each call's payload and answers Accepted: the adapters' side only. */
function recordingClient(protocol: string) {
  const sent: { action: string; params: unknown }[] = [];
  const client = {
    protocol,
    on: () => {},
    handle: () => {},
    call: async (action: string, params: unknown) => {
      sent.push({ action, params });
      return { status: "Accepted" };
    },
  };
  // The adapters use only these members of a client.
  return { sent, client: client as unknown as RPCClient };
}

const notCalled = () => {
  throw new Error("no charger message in this test");
};
const events: ChargerEvents = {
  booted: true,
  boot: notCalled,
  status: notCalled,
  authorize: notCalled,
  start: notCalled,
  update: notCalled,
  meter: notCalled,
  needs: notCalled,
};
const metrics = { message: () => {} } as unknown as GatewayMetrics;
const ctx: OcppContext = { tracer: trace.getTracer("test"), tracing: false, metrics, callTimeoutMs: 1000 };

test("the SetChargingProfile requests both adapters build satisfy the official schemas, for any limit", async () => {
  expect(OWN_REQUESTS).toEqual(["SetChargingProfile"]);
  const full = {
    "ocpp1.6": createValidator("ocpp1.6", ocpp16),
    "ocpp2.0.1": createValidator("ocpp2.0.1", ocpp201),
  };
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("ocpp1.6" as const, "ocpp2.0.1" as const),
      fc.integer({ min: 1, max: 64 }),
      // 1.6 transaction ids are the gateway's integers; 2.0.1 ones the charger's strings (at most 36 chars).
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.string({ minLength: 1, maxLength: 36 }),
      fc.integer({ min: 0, max: 1_000_000 }),
      async (protocol, connectorId, txNumber, txString, watts) => {
        const { sent, client } = recordingClient(protocol);
        const link =
          protocol === "ocpp1.6"
            ? serve16(client, "cp-1", events, ctx)
            : serve201(client, "cp-1", events, ctx);
        await link.setLimit(connectorId, protocol === "ocpp1.6" ? String(txNumber) : txString, watts, null);
        await link.setDefaultLimit(watts);
        expect(sent.map((s) => s.action)).toEqual(["SetChargingProfile", "SetChargingProfile"]);
        for (const s of sent)
          expect(full[protocol].validate("urn:SetChargingProfile.req", s.params)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
});

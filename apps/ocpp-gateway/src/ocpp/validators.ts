import { createRPCError, createValidator } from "ocpp-rpc";
import ocpp16 from "ocpp-rpc/lib/schemas/ocpp1_6.json";
import ocpp201 from "ocpp-rpc/lib/schemas/ocpp2_0_1.json";

/**
 * Requests only the gateway sends, built by the adapters from the types generated from these same schemas
 * (`test/ocpp-own-requests.test.ts` checks them against the schemas): not validated again on their way out,
 * where a re-share sends one per charging connector. No charger can send us one: the gateway has no handler
 * for them, and ocpp-rpc answers a call without a handler NotImplemented before it looks at any schema.
 * Everything a charger sends, its answers to these calls included, is still validated.
 */
export const OWN_REQUESTS = ["SetChargingProfile"] as const;

/** ocpp-rpc's strict-mode validators for the versions served, less the check of our own requests. */
export function strictValidators() {
  const skipped = new Set(OWN_REQUESTS.map((action) => `urn:${action}.req`));
  return [createValidator("ocpp1.6", ocpp16), createValidator("ocpp2.0.1", ocpp201)].map((v) => {
    const validateAll = v.validate.bind(v);
    v.validate = (schemaId, params) => {
      if (skipped.has(schemaId)) return true;
      try {
        return validateAll(schemaId, params);
      } catch (err) {
        throw withoutEcho(err);
      }
    };
    return v;
  });
}

/** The longest error description a charger is sent back (ajv's names the path, which a charger controls). */
const MAX_DESCRIPTION = 200;

/**
 * A schema failure as the charger is told it: its code and a bounded description, no details. ocpp-rpc's
 * own carries the charger's whole payload back (`details.data`): a 60 KB frame nested 30,000 deep took the
 * gateway's one thread half a second to answer, for every other charger too (a hostile-charger probe).
 */
function withoutEcho(err: unknown): Error {
  const e = err as { rpcErrorCode?: string; message?: string };
  if (typeof e?.rpcErrorCode !== "string") return err as Error;
  const message = (e.message ?? "").slice(0, MAX_DESCRIPTION);
  return createRPCError(e.rpcErrorCode, message, {}) as unknown as Error;
}

import type { AppRouter } from "@evgrid/charge-api";
import { type ChargeRequestInput, errorDataOf } from "@evgrid/contract";
import type { TRPCClient } from "@trpc/client";
import type { Send } from "./driver.ts";

/**
 * What every load run sends: request `index` asks for a session for vehicle `<prefix>-<index>` and comes
 * back as an outcome (admitted where, or refused/failed with code and reason), never as a thrown error.
 */
export function chargeRequests(
  api: TRPCClient<AppRouter>,
  vehiclePrefix: string,
  request: Omit<ChargeRequestInput, "vehicleId">,
): Send {
  return async (index) => {
    try {
      const g = await api.requestCharge.mutate({ ...request, vehicleId: `${vehiclePrefix}-${index}` });
      return { ok: true, substationId: g.substationId, allocatedKw: g.allocatedKw, tries: g.tries };
    } catch (err) {
      const data = errorDataOf(err);
      return { ok: false, code: data?.code ?? "NETWORK", reason: data?.reason ?? "UNREACHABLE" };
    }
  };
}

import { reasons, type Session, substationOfSession } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import type { DispatchReport, DispatchStore } from "./types.ts";
import type { GridView, Member } from "./view.ts";

/** The substation a session id names (its prefix), or UNKNOWN_SUBSTATION. */
export function ownerOf(view: GridView, sessionId: string): Member {
  const substationId = substationOfSession(sessionId);
  const member = view.byId(substationId);
  if (!member) {
    throw new GridError(
      "NOT_FOUND",
      reasons.UNKNOWN_SUBSTATION,
      `no substation ${substationId} in this grid`,
    );
  }
  return member;
}

/**
 * A vehicle's active session anywhere in the grid, or null: from the substation it was last sent to, else by
 * asking every healthy substation (at most one has it).
 */
export async function findVehicleSession(
  view: GridView,
  store: DispatchStore,
  vehicleId: string,
): Promise<Session | null> {
  const home = await store.vehicleHome(vehicleId);
  const homeMember = home === undefined ? undefined : view.byId(home);
  const members = homeMember?.healthy ? [homeMember] : view.members.filter((m) => m.healthy);
  const found = await Promise.all(
    members.map((m) => m.client.findSession.query({ vehicleId }).catch(() => null)),
  );
  const session = found.find((s) => s !== null) ?? null;
  if (session === null && homeMember?.healthy) {
    // The home may be stale (the session ended behind us): the others are asked before saying none.
    await store.forgetVehicle(vehicleId);
    return findVehicleSession(view, store, vehicleId);
  }
  return session;
}

/** How a failed dispatch is counted, by its reason. */
export const outcomeOf: Record<string, DispatchReport["outcome"]> = {
  [reasons.GRID_FULL]: "grid_full",
  [reasons.NO_SUBSTATION_AVAILABLE]: "unavailable",
  [reasons.SUBSTATION_TIMEOUT]: "timeout",
  [reasons.DEADLINE_EXCEEDED]: "deadline",
  [reasons.QUOTA_EXCEEDED]: "quota",
  [reasons.WAIT_QUEUE_FULL]: "quota",
};

import type { Session } from "@evgrid/contract";
import type { GridView } from "./view.ts";

/**
 * The active booking an idTag claims, or null: every healthy substation is asked at once, each answering from
 * its own index of its active sessions (at most one has it). The OCPP gateway asks when a charger presents an
 * idTag; a substation that cannot answer counts as not having it, so the charger gets a walk-in, never an error.
 */
export async function findBooking(view: GridView, idTag: string): Promise<Session | null> {
  const members = view.members.filter((m) => m.healthy);
  const found = await Promise.all(
    members.map((m) => m.client.findBooking.query({ idTag }).catch(() => null)),
  );
  return found.find((s) => s !== null) ?? null;
}

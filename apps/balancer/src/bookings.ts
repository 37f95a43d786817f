import { type Session, substationOfSession } from "@evgrid/contract";
import { movedSessionId } from "@evgrid/kit";
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

/**
 * The session a booking claimed at a charger of another substation goes on in, or null (not admitted there
 * yet, or its substation unreachable): each other healthy substation is asked at once for the one id it
 * would have (kit movedSessionId). With `owner`, only that owner's session.
 */
export async function findMovedSession(
  view: GridView,
  ref: { sessionId: string; owner?: string | undefined },
): Promise<Session | null> {
  const from = substationOfSession(ref.sessionId);
  const members = view.members.filter((m) => m.healthy && m.id !== null && m.id !== from);
  const found = await Promise.all(
    members.map((m) =>
      m.client.getSession
        .query({ sessionId: movedSessionId(m.id as string, ref.sessionId), owner: ref.owner })
        .catch(() => null),
    ),
  );
  return found.find((s) => s !== null) ?? null;
}

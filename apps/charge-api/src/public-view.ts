/** What the public API shows of sessions and of the grid: plain data in, plain data out. */
import type { PublicSession, Session, SubstationLoad } from "@evgrid/contract";

/** A substation as the balancer lists it (listSubstations); the rest of its fields stay internal. */
export interface ListedSubstation {
  substationId: string | null;
  healthy: boolean;
  load: SubstationLoad | null;
}

/** What a grant says of its session (the rest is getSession's). */
const GRANT_FIELDS = [
  "sessionId",
  "substationId",
  "vehicleId",
  "allocatedKw",
  "minKw",
  "maxKw",
  "startedAt",
  "expectedEndAt",
  "durationS",
  "energyKwh",
  "priority",
  "departAt",
  "projectedKwh",
  "onTrack",
  "maxDeliverableKwh",
] as const satisfies readonly (keyof Session)[];

export type Grant = Pick<Session, (typeof GRANT_FIELDS)[number]>;

export function grantOf(session: Session): Grant {
  return Object.fromEntries(GRANT_FIELDS.map((k) => [k, session[k]])) as Grant;
}

/** What the owner sees of its session: everything but the owner id (its own key comes back as it sent it). */
export function publicSession({ owner: _owner, ...session }: Session): PublicSession {
  return session;
}

/** Every substation's health and load, with grid totals over the healthy ones. */
export function publicGridStatus(members: readonly ListedSubstation[]) {
  // The public view: ids, health and load. Addresses, error texts and failure counts stay internal.
  const substations = members.map(({ substationId, healthy, load }) => ({ substationId, healthy, load }));
  const sum = (pick: (l: SubstationLoad) => number) =>
    substations.reduce((acc, s) => acc + (s.healthy && s.load ? pick(s.load) : 0), 0);
  return {
    substations,
    totals: {
      substations: substations.length,
      healthy: substations.filter((s) => s.healthy).length,
      effectiveCapacityKw: sum((l) => l.effectiveCapacityKw),
      allocatedKw: sum((l) => l.allocatedKw),
      committedMinKw: sum((l) => l.committedMinKw),
      activeSessions: sum((l) => l.activeSessions),
    },
  };
}

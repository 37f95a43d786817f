/** What the public API shows of sessions and of the grid: plain data in, plain data out. */
import type { INTERNAL_SESSION_FIELDS, PublicSession, Session, SubstationLoad } from "@evgrid/contract";

/** A substation as the balancer lists it (listSubstations); the rest of its fields stay internal. */
export interface ListedSubstation {
  substationId: string | null;
  healthy: boolean;
  load: SubstationLoad | null;
}

/** What a grant says of its session (the rest is getSession's). */
export function grantOf(s: Session) {
  // A literal, not a loop over field names: one object, its shape known to the compiler.
  return {
    sessionId: s.sessionId,
    substationId: s.substationId,
    vehicleId: s.vehicleId,
    allocatedKw: s.allocatedKw,
    minKw: s.minKw,
    maxKw: s.maxKw,
    startedAt: s.startedAt,
    expectedEndAt: s.expectedEndAt,
    durationS: s.durationS,
    energyKwh: s.energyKwh,
    priority: s.priority,
    departAt: s.departAt,
    projectedKwh: s.projectedKwh,
    onTrack: s.onTrack,
    maxDeliverableKwh: s.maxDeliverableKwh,
  } satisfies Partial<Session>;
}

export type Grant = ReturnType<typeof grantOf>;

/**
 * What the owner sees of its session: everything but the internal fields (INTERNAL_SESSION_FIELDS): the owner
 * id (its own key comes back as it sent it), meteredKwh (deliveredKwh already is the meter's, once one
 * reports) and where a moved booking went (getSession's movedTo names the session there).
 */
export function publicSession({
  owner: _owner,
  meteredKwh: _metered,
  movedToSubstationId: _movedTo,
  ...session
}: Session): PublicSession {
  // A field added to INTERNAL_SESSION_FIELDS and not taken out above fails to compile here.
  const shown: WithoutInternal<typeof session> = session;
  return shown;
}

/** `T` with every internal session field it still has typed `never`. */
type WithoutInternal<T> = { [K in keyof T]: K extends keyof typeof INTERNAL_SESSION_FIELDS ? never : T[K] };

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

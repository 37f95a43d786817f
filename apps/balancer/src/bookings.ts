import { errorDataOf, reasons, type Session, substationOfSession } from "@evgrid/contract";
import { GridError, movedSessionId, relayUpstreamError } from "@evgrid/kit";
import type { GridView, Member } from "./view.ts";

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

/** A booking whose `moved` end names no destination asks the other substations this many at a time. */
const UNRECORDED_MOVE_WAVE = 16;

/**
 * The session a booking claimed at a charger of another substation goes on in, or null (not admitted there
 * yet). Its id there is derived from the booking's (kit movedSessionId). With `owner`, only that owner's.
 *
 * With `movedToSubstationId` (the booking's end records where it went) that one substation is asked: one
 * call. One that cannot answer, or that this balancer does not have (never heard from, deregistered), is an
 * error (UPSTREAM_UNAVAILABLE), never "not admitted yet": null would answer a stop while the car charges on.
 * Without (a move journaled before destinations were recorded, a set that only shrinks) every other healthy
 * substation is asked, at most UNRECORDED_MOVE_WAVE at once, until one has it; one down counts as not having it.
 */
export async function findMovedSession(
  view: GridView,
  ref: { sessionId: string; owner?: string | undefined; movedToSubstationId?: string | undefined },
): Promise<Session | null> {
  const to = ref.movedToSubstationId;
  if (to !== undefined) return askDestination(view, ref, to);
  const from = substationOfSession(ref.sessionId);
  const members = view.members.filter((m) => m.healthy && m.id !== null && m.id !== from);
  for (let i = 0; i < members.length; i += UNRECORDED_MOVE_WAVE) {
    const wave = members.slice(i, i + UNRECORDED_MOVE_WAVE);
    const found = await Promise.all(wave.map((m) => movedThere(m, m.id as string, ref).catch(() => null)));
    const session = found.find((s) => s !== null);
    if (session) return session;
  }
  return null;
}

/**
 * The substation a booking went to, as this balancer knows it. Not in this view is not "not there": a member
 * is known by id once it has answered, and a registered one leaves it while it restarts (deregistered, or its
 * heartbeats expired) and comes back with its sessions: UPSTREAM_UNAVAILABLE.
 */
export function destinationOf(view: GridView, to: string): Member {
  const member = view.byId(to);
  if (!member)
    throw new GridError("SERVICE_UNAVAILABLE", reasons.UPSTREAM_UNAVAILABLE, `${to} is unreachable`);
  return member;
}

async function askDestination(
  view: GridView,
  ref: { sessionId: string; owner?: string | undefined },
  to: string,
): Promise<Session | null> {
  const member = destinationOf(view, to);
  try {
    return await movedThere(member, to, ref);
  } catch (err) {
    if (errorDataOf(err)?.reason === reasons.SESSION_NOT_FOUND) return null;
    throw relayUpstreamError(err, to);
  }
}

/** The session `ref` goes on in at `member` (whose id is `id`); SESSION_NOT_FOUND if there is none (yet). */
const movedThere = (member: Member, id: string, ref: { sessionId: string; owner?: string | undefined }) =>
  member.client.getSession.query({ sessionId: movedSessionId(id, ref.sessionId), owner: ref.owner });

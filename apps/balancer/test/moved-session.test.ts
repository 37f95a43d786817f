/**
 * findMovedSession: where a booking that ended `moved` goes on. With the destination its end recorded, one
 * call to that substation; without (a move journaled before destinations were kept), the others in waves.
 */
import { describe, expect, test } from "bun:test";
import type { Session } from "@evgrid/contract";
import { GridError, manualScheduler, movedSessionId } from "@evgrid/kit";
import { closeLink, type InternalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { findMovedSession } from "../src/bookings.ts";
import { GridView } from "../src/view.ts";
import { loadOf } from "./fakes.ts";

const BOOKING = `substation-0.${"b".repeat(32)}`;

/** An error as a substation's answer carries it (its data, as the link gives it back). */
const answered = (code: string, reason: string) =>
  Object.assign(new Error(reason), { data: { code, httpStatus: 0, reason } });

/** A substation `id` that has the session the booking went on in (`has`), or not, or is down; counts asks. */
function site(id: string, state: "has" | "not" | "down") {
  const fake = { asked: 0, up: true };
  const client = {
    getLoad: {
      query: async () => {
        if (!fake.up) throw new Error("connection refused");
        return loadOf(id);
      },
    },
    getSession: {
      query: async (ref: { sessionId: string }) => {
        fake.asked += 1;
        if (state === "down") throw new Error("connection refused");
        if (state === "not" || ref.sessionId !== movedSessionId(id, BOOKING))
          throw answered("NOT_FOUND", "SESSION_NOT_FOUND");
        return { sessionId: ref.sessionId } as Session;
      },
    },
    [closeLink]: () => {},
  } as unknown as InternalClient<SubstationRouter>;
  return Object.assign(fake, { client });
}

async function viewOf(sites: ReturnType<typeof site>[]) {
  const byUrl = new Map(sites.map((s, i) => [`http://s${i}`, s]));
  const view = new GridView({
    urls: [...byUrl.keys()],
    client: (url) => (byUrl.get(url) as ReturnType<typeof site>).client,
    now: manualScheduler().now,
    scheduler: manualScheduler(),
    random: () => 0.5,
  });
  await view.refresh();
  return view;
}

const asks = (sites: ReturnType<typeof site>[]) => sites.map((s) => s.asked);

describe("findMovedSession", () => {
  test("with its destination: one call, to that substation; not there yet is null", async () => {
    const sites = [site("substation-1", "not"), site("substation-2", "has"), site("substation-3", "has")];
    const view = await viewOf(sites);
    const ref = { sessionId: BOOKING, movedToSubstationId: "substation-2" };
    expect(await findMovedSession(view, ref)).toMatchObject({
      sessionId: movedSessionId("substation-2", BOOKING),
    });
    expect(asks(sites)).toEqual([0, 1, 0]);
    expect(await findMovedSession(view, { ...ref, movedToSubstationId: "substation-1" })).toBeNull();
    expect(asks(sites)).toEqual([1, 1, 0]);
  });

  test("a destination that cannot answer is an error, never 'not admitted yet'", async () => {
    const sites = [site("substation-1", "down"), site("substation-2", "not")];
    const view = await viewOf(sites);
    const refused = await findMovedSession(view, {
      sessionId: BOOKING,
      movedToSubstationId: "substation-1",
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GridError);
    expect(refused).toMatchObject({ code: "SERVICE_UNAVAILABLE", reason: "UPSTREAM_UNAVAILABLE" });
  });

  test("a destination this balancer never heard from: unavailable, whether or not every member answered", async () => {
    const silent = site("substation-9", "has");
    silent.up = false;
    const sites = [site("substation-1", "not"), silent];
    const view = await viewOf(sites);
    const ref = { sessionId: BOOKING, movedToSubstationId: "substation-9" };
    expect(await findMovedSession(view, ref).catch((e: unknown) => e)).toMatchObject({
      reason: "UPSTREAM_UNAVAILABLE",
    });
    silent.up = true;
    const later = await viewOf(sites); // once it has answered
    expect(await findMovedSession(later, ref)).toMatchObject({
      sessionId: movedSessionId("substation-9", BOOKING),
    });
    // Every member known, none of them it: still where the car charges on, unreachable from here.
    expect(
      await findMovedSession(later, { ...ref, movedToSubstationId: "substation-7" }).catch((e) => e),
    ).toMatchObject({
      reason: "UPSTREAM_UNAVAILABLE",
    });
  });

  test("a destination that left the grid (deregistered to restart, heartbeats expired) is unavailable, not null", async () => {
    const sites = [site("substation-1", "not"), site("substation-2", "has")];
    const byUrl = new Map(sites.map((s, i) => [`http://s${i}`, s]));
    const view = new GridView({
      urls: ["http://s0"],
      client: (url) => (byUrl.get(url) as ReturnType<typeof site>).client,
      now: manualScheduler().now,
      scheduler: manualScheduler(),
      random: () => 0.5,
    });
    await view.refresh();
    await view.register("http://s1");
    const ref = { sessionId: BOOKING, owner: "key:1", movedToSubstationId: "substation-2" };
    expect(await findMovedSession(view, ref)).toMatchObject({
      sessionId: movedSessionId("substation-2", BOOKING),
    });
    // Its graceful stop deregisters it; it comes back with the session (its journal) once restarted. Until
    // then, null would read "not admitted there yet": the owner's stop answered as done while the car charges.
    view.deregister("http://s1");
    expect(await findMovedSession(view, ref).catch((e: unknown) => e)).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      reason: "UPSTREAM_UNAVAILABLE",
    });
  });

  test("without one (journaled before destinations were kept): the others, 16 at a time, until one has it", async () => {
    const sites = Array.from({ length: 40 }, (_, i) => site(`substation-${i + 1}`, i === 20 ? "has" : "not"));
    const view = await viewOf(sites);
    expect(await findMovedSession(view, { sessionId: BOOKING })).toMatchObject({
      sessionId: movedSessionId("substation-21", BOOKING),
    });
    // Two waves of 16 asked; the third never.
    expect(asks(sites).reduce((a, b) => a + b, 0)).toBe(32);
  });
});

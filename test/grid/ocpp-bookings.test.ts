/**
 * Bookings are bound by proof, not by a vehicle id (issue 17, finding 3). A charger with valid credentials that
 * presents a victim's vehicle id as its idTag / idToken gets a walk-in of its own: it neither ends the victim's
 * booking at another substation nor takes it over at its own, and its stop ends only its walk-in. The owner's
 * idTag (requestCharge answers it to the owner only) claims the booking, at its own substation or another.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { AppRouter, ChargeApiRouter, RouterOutputs } from "@evgrid/charge-api";
import { errorDataOf, type SessionUpdate, walkInVehicleId } from "@evgrid/contract";
import { internalClient } from "@evgrid/link";
import { eventually, startGrid, startOcppGateway } from "@evgrid/testing";
import { createTRPCClient, httpSubscriptionLink } from "@trpc/client";
import { EventSource } from "eventsource";

setDefaultTimeout(30_000);

type Grid = Awaited<ReturnType<typeof startGrid>>;
type Grant = RouterOutputs["requestCharge"];

const statusOf = async (grid: Grid, grant: Grant) =>
  (await grid.client.getSession.query({ sessionId: grant.sessionId, sessionSecret: grant.sessionSecret }))
    .status;

/** A grid, its gateway and a booking for `vehicleId`, where every test here starts; all stopped after. */
async function withBooking(capacitiesKw: number[], vehicleId: string) {
  await using stack = new AsyncDisposableStack();
  const grid = stack.use(await startGrid({ capacitiesKw }));
  const ocpp = stack.use(await startOcppGateway(grid));
  const booking = await grid.client.requestCharge.mutate({ vehicleId, durationS: 600 });
  const owned = stack.move();
  return { grid, ocpp, booking, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

describe.each(["ocpp1.6", "ocpp2.0.1"] as const)("%s", (protocol) => {
  test("a victim's vehicle id at a charger of another substation is a walk-in there; the booking stays", async () => {
    await using booked = await withBooking([50, 100], "ev-victim");
    const { grid, ocpp, booking: victim } = booked;
    expect(victim.substationId).toBe("substation-2");

    const thief = await ocpp.charger("cp-thief", { protocol, substationId: "substation-1" });
    await thief.startTransaction(1, "ev-victim");
    const walkIn = await ocpp.txSession("cp-thief");
    expect(walkIn).not.toBe(victim.sessionId);
    const taken = await grid.operator.getSession.query({ sessionId: walkIn });
    // Nothing the charger said makes it anybody's but the operator's: the victim cannot be billed for it.
    expect(taken).toMatchObject({
      substationId: "substation-1",
      vehicleId: walkInVehicleId("ev-victim"),
      owner: "operator",
    });
    expect(await statusOf(grid, victim)).toBe("active");

    // Its stop ends its own walk-in, and only that.
    await thief.stopTransaction(1, 100);
    await eventually(async () =>
      expect((await grid.operator.getSession.query({ sessionId: walkIn })).status).toBe("ended"),
    );
    expect(await statusOf(grid, victim)).toBe("active");
  });

  test("a victim's vehicle id at a charger of the booking's own substation takes nothing over", async () => {
    await using booked = await withBooking([50], "ev-victim");
    const { grid, ocpp, booking: victim } = booked;
    const thief = await ocpp.charger("cp-thief", { protocol });
    await thief.startTransaction(1, "ev-victim");
    const walkIn = await ocpp.txSession("cp-thief");
    expect(walkIn).not.toBe(victim.sessionId);
    expect(grid.substations[0]?.station.load().activeSessions).toBe(2);

    await thief.stopTransaction(1, 100);
    await eventually(() => expect(grid.substations[0]?.station.load().activeSessions).toBe(1));
    expect(await statusOf(grid, victim)).toBe("active");
  });

  test("the owner's idTag claims the booking at its own substation: the same session, no second one", async () => {
    await using booked = await withBooking([50], "ev-owner");
    const { grid, ocpp, booking } = booked;
    const cp = await ocpp.charger("cp-owner", { protocol });
    // OCPP compares idTags without regard to case (CiString): typed in lower case it is the same tag.
    await cp.startTransaction(1, protocol === "ocpp1.6" ? booking.idTag.toLowerCase() : booking.idTag);
    expect(await ocpp.txSession("cp-owner")).toBe(booking.sessionId);
    expect(grid.substations[0]?.station.load().activeSessions).toBe(1);

    // The charger's stop ends the booking it claimed.
    await cp.stopTransaction(1, 100);
    await eventually(async () => expect(await statusOf(grid, booking)).toBe("ended"));
  });

  test("the owner's idTag at another substation moves the booking there, for the booked vehicle", async () => {
    await using booked = await withBooking([50, 100], "ev-owner");
    const { grid, ocpp, booking } = booked;
    expect(booking.substationId).toBe("substation-2");
    const cp = await ocpp.charger("cp-owner", { protocol, substationId: "substation-1" });
    await cp.startTransaction(1, booking.idTag);
    const here = await ocpp.txSession("cp-owner");
    expect(await grid.operator.getSession.query({ sessionId: here })).toMatchObject({
      substationId: "substation-1",
      vehicleId: "ev-owner",
    });
    expect(await statusOf(grid, booking)).toBe("ended");
    // The vehicle charges here now: one session for it in the whole grid.
    expect((await grid.operator.findVehicleSession.query({ vehicleId: "ev-owner" }))?.sessionId).toBe(here);
  });
});

describe("one idTag, one transaction", () => {
  test("a booking's idTag already charging at one charger is ConcurrentTx at another", async () => {
    await using booked = await withBooking([50], "ev-owner");
    const { ocpp, booking } = booked;
    const first = await ocpp.charger("cp-first");
    await first.startTransaction(1, booking.idTag);
    expect(await ocpp.txSession("cp-first")).toBe(booking.sessionId);
    const second = await ocpp.charger("cp-second");
    await expect(second.startTransaction(1, booking.idTag)).rejects.toThrow(/ConcurrentTx/);
  });

  test("the same idTag in other letter case is the same tag: the second transaction is stopped, the booking stays bound", async () => {
    await using booked = await withBooking([50], "ev-owner");
    const { grid, ocpp, booking } = booked;
    const first = await ocpp.charger("cp-first");
    await first.startTransaction(1, booking.idTag);
    expect(await ocpp.txSession("cp-first")).toBe(booking.sessionId);
    const second = await ocpp.charger("cp-second");
    const tx = await second.startTransaction(1, booking.idTag.toLowerCase());
    await eventually(() => expect(second.stopsAsked).toEqual([tx]));
    expect(await ocpp.txSession("cp-first")).toBe(booking.sessionId);
    expect(grid.substations[0]?.station.load().activeSessions).toBe(1);
  });
});

describe("a booking claimed at another substation's charger stays its owner's", () => {
  const KEY = "key-owner-aaaaaaaaaaaa";
  const OTHER_KEY = "key-other-bbbbbbbbbbbb";

  /**
   * A grid of substations of 50 and 100 kW whose charge-api takes `keys`, the gateway, and a booking the
   * first key made (at substation-2) claimed at a charger of substation-1: `here` is the session there.
   */
  async function movedBooking(keys: string[], balancer: Record<string, string> = {}) {
    await using stack = new AsyncDisposableStack();
    const grid = stack.use(
      await startGrid({ capacitiesKw: [50, 100], chargeApi: { API_KEYS: keys.join(",") }, balancer }),
    );
    const ocpp = stack.use(await startOcppGateway(grid));
    const as = (token: string) => internalClient<ChargeApiRouter>(grid.api.url, { timeoutMs: 10_000, token });
    const owner = as(keys[0] as string);
    const booking = await owner.requestCharge.mutate({ vehicleId: "ev-owner", durationS: 600 });
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    await cp.startTransaction(1, booking.idTag);
    const here = await ocpp.txSession("cp-owner");
    const owned = stack.move();
    return { grid, as, owner, booking, here, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  }

  test("the API key that booked it reads the session there; another key cannot", async () => {
    await using moved = await movedBooking([KEY, OTHER_KEY]);
    const { as, owner, booking, here } = moved;
    expect(booking.substationId).toBe("substation-2");
    expect(here).not.toBe(booking.sessionId);
    expect(await owner.getSession.query({ sessionId: here })).toMatchObject({
      substationId: "substation-1",
      vehicleId: "ev-owner",
      status: "active",
    });
    const stranger = await as(OTHER_KEY)
      .getSession.query({ sessionId: here })
      .catch((e: unknown) => e);
    expect(errorDataOf(stranger)?.reason).toBe("SESSION_NOT_FOUND");
    // The booking says where it went (an API key needs no secret there).
    expect(await owner.getSession.query({ sessionId: booking.sessionId })).toMatchObject({
      status: "ended",
      endReason: "moved",
      movedTo: { sessionId: here, sessionSecret: null },
    });
  });

  test("stopping the booking stops the car where it went on, and answers that session", async () => {
    // Before: stopCharge on the booking answered ended/moved while the car charged on at substation-1, in the
    // owner's name (and on the owner's bill): the owner was told it had stopped.
    await using moved = await movedBooking([KEY]);
    const { grid, owner, booking, here } = moved;
    const stopped = await owner.stopCharge.mutate({ sessionId: booking.sessionId });
    expect(stopped).toMatchObject({ sessionId: here, status: "ended", endReason: "stopped" });
    expect(await owner.getSession.query({ sessionId: here })).toMatchObject({ status: "ended" });
    expect(grid.substations.flatMap((s) => s.station.list("active", 10))).toEqual([]);
  });

  test("it holds one place in its owner's quota, there as here: never two, never none", async () => {
    // Admitted there within the owner's one session: the booking's place went with it.
    await using moved = await movedBooking([KEY], { QUOTA_ACTIVE_SESSIONS: "1" });
    const { owner, here } = moved;
    expect((await owner.getSession.query({ sessionId: here })).status).toBe("active");
    // And it is counted there: the owner's one place is taken.
    const second = await owner.requestCharge
      .mutate({ vehicleId: "ev-second", durationS: 600 })
      .catch((e: unknown) => e);
    expect(errorDataOf(second)).toMatchObject({ reason: "QUOTA_EXCEEDED" });
  });

  test("open mode: the booking says where it went (movedTo, with the secret there); its owner reads and watches it", async () => {
    await using booked = await withBooking([50, 100], "ev-owner");
    const { grid, ocpp, booking } = booked;
    const cp = await ocpp.charger("cp-owner", { substationId: "substation-1" });
    await cp.startTransaction(1, booking.idTag);
    const here = await ocpp.txSession("cp-owner");
    const ref = { sessionId: booking.sessionId, sessionSecret: booking.sessionSecret };
    const left = await grid.client.getSession.query(ref);
    expect(left).toMatchObject({ status: "ended", endReason: "moved" });
    expect(left.movedTo?.sessionId).toBe(here);
    const there = { sessionId: here, sessionSecret: left.movedTo?.sessionSecret };
    expect(await grid.client.getSession.query(there)).toMatchObject({
      substationId: "substation-1",
      vehicleId: "ev-owner",
      status: "active",
      movedTo: null,
    });
    // Its secret is the proof there too: without it, nothing.
    const without = await grid.client.getSession.query({ sessionId: here }).catch((e: unknown) => e);
    expect(errorDataOf(without)?.reason).toBe("SESSION_FORBIDDEN");

    const updates = watch(grid, there);
    try {
      await eventually(() => expect(updates.at(-1)).toMatchObject({ sessionId: here, status: "active" }));
      await cp.stopTransaction(1, 100);
      await eventually(() => expect(updates.at(-1)).toMatchObject({ status: "ended", endReason: "stopped" }));
    } finally {
      updates.stop();
    }
  });
});

/** The public watchSession over SSE (tRPC's httpSubscriptionLink), as a browser or `bun run client` uses it. */
function watch(grid: Grid, ref: { sessionId: string; sessionSecret?: string | null | undefined }) {
  const api = createTRPCClient<AppRouter>({
    links: [httpSubscriptionLink({ url: `${grid.api.url}/trpc`, EventSource })],
  });
  const updates: SessionUpdate[] = [];
  const sub = api.watchSession.subscribe(ref, { onData: (u) => updates.push(u) });
  return Object.assign(updates, { stop: () => sub.unsubscribe() });
}

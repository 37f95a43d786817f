/** The public API works from each of tRPC's stock client links, with the default quotas in force. */
import { describe, expect, test } from "bun:test";
import type { AppRouter } from "@evgrid/charge-api";
import type { SessionUpdate } from "@evgrid/contract";
import { eventually, startGrid } from "@evgrid/testing";
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCLink,
} from "@trpc/client";
import { EventSource } from "eventsource";

const links: [string, (url: string) => TRPCLink<AppRouter>][] = [
  ["httpLink", (url) => httpLink({ url })],
  ["httpBatchLink", (url) => httpBatchLink({ url })],
  ["httpBatchStreamLink", (url) => httpBatchStreamLink({ url })],
];

describe("stock tRPC links", () => {
  test.each(links)(
    "%s: start, read, stop sessions; concurrent calls batched together count one by one",
    async (name, link) => {
      await using grid = await startGrid({ capacitiesKw: [150, 150], defaultQuotas: true });
      const api = createTRPCClient<AppRouter>({ links: [link(`${grid.api.url}/trpc`)] });
      // Ten calls in one tick: the batch links send them as one request.
      const grants = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          api.requestCharge.mutate({ vehicleId: `${name}-${i}`, durationS: 60 }),
        ),
      );
      expect(new Set(grants.map((g) => g.substationId))).toEqual(new Set(["substation-1", "substation-2"]));
      const [first] = grants;
      if (!first) throw new Error("no grant");
      const ref = { sessionId: first.sessionId, sessionSecret: first.sessionSecret };
      const [session, status] = await Promise.all([api.getSession.query(ref), api.gridStatus.query()]);
      expect(session.status).toBe("active");
      expect(status.totals.activeSessions).toBe(10);
      expect((await api.stopCharge.mutate(ref)).endReason).toBe("stopped");
    },
  );
});

describe("httpSubscriptionLink: watchSession over SSE", () => {
  test("a session's power as it changes, then its end; only its owner may watch it", async () => {
    await using grid = await startGrid({ capacitiesKw: [22], defaultQuotas: true });
    const url = `${grid.api.url}/trpc`;
    const api = createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => op.type === "subscription",
          // Bun has no EventSource of its own (browsers do): the eventsource package is the standard one.
          true: httpSubscriptionLink({ url, EventSource }),
          false: httpLink({ url }),
        }),
      ],
    });
    const a = await api.requestCharge.mutate({ vehicleId: "watched", maxKw: 22, minKw: 1, durationS: 600 });
    const ref = { sessionId: a.sessionId, sessionSecret: a.sessionSecret };
    const updates: SessionUpdate[] = [];
    let completed = false;
    const sub = api.watchSession.subscribe(ref, {
      onData: (u) => updates.push(u),
      onComplete: () => {
        completed = true;
      },
    });
    const waitFor = (check: () => boolean) =>
      eventually(() => expect({ seen: check(), updates }).toMatchObject({ seen: true }), {
        timeoutMs: 10_000,
      });
    try {
      await waitFor(() => updates.length >= 1);
      expect(updates[0]).toMatchObject({ sessionId: a.sessionId, status: "active", allocatedKw: 22 });
      const b = await api.requestCharge.mutate({ vehicleId: "other", maxKw: 22, minKw: 1, durationS: 600 });
      await waitFor(() => updates.at(-1)?.allocatedKw === 11);
      await api.stopCharge.mutate({ sessionId: b.sessionId, sessionSecret: b.sessionSecret });
      await waitFor(() => updates.at(-1)?.allocatedKw === 22);
      await api.stopCharge.mutate(ref);
      await waitFor(() => updates.at(-1)?.status === "ended");
      expect(updates.at(-1)).toMatchObject({ allocatedKw: 0, endReason: "stopped" });

      // Without its secret: refused, typed, before anything is looked up.
      const refused = await new Promise<unknown>((resolve) => {
        api.watchSession.subscribe({ sessionId: a.sessionId }, { onData: () => {}, onError: resolve });
      });
      expect((refused as { data?: { reason?: string } }).data?.reason).toBe("SESSION_FORBIDDEN");
    } finally {
      sub.unsubscribe();
    }
    expect(completed || updates.at(-1)?.status === "ended").toBe(true);
  });
});

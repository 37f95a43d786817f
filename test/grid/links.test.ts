/** The public API works from each of tRPC's stock client links, with the default quotas in force. */
import { describe, expect, test } from "bun:test";
import type { AppRouter } from "@evgrid/charge-api";
import { startGrid } from "@evgrid/testing";
import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink, type TRPCLink } from "@trpc/client";

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

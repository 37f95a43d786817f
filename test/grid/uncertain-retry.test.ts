/**
 * One balancer (its own memory, no shared store): a request whose substation never answered may have a
 * session there; its retry must go there, never elsewhere.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { BalancerRouter } from "@evgrid/balancer";
import { startBalancer } from "@evgrid/balancer/app";
import { readEnv as balancerEnv } from "@evgrid/balancer/env";
import { errorDataOf } from "@evgrid/contract";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { internalClient } from "@evgrid/link";
import { eventually, faultyProxy, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe("a retry after a substation that never answered", () => {
  test("goes back to that substation (refused while it is out), never to another one", async () => {
    // substation-1 (150 kW) has the most headroom, so the first try goes there, through a proxy that hangs.
    await using grid = await startGrid({ capacitiesKw: [150, 50] });
    const [first, second] = grid.substations;
    if (!first || !second) throw new Error("two substations");
    let hang = true;
    using proxy = faultyProxy(first.url, (procedure) => hang && procedure === "startSession");
    const balancer = await startBalancer(
      balancerEnv({
        PORT: "0",
        SUBSTATION_URLS: `${proxy.url},${second.url}`,
        SERVICE_TOKEN: grid.serviceToken,
        LOG_QUIET: "true",
        CALL_TIMEOUT_MS: "300",
        // substation-1, once failed, is probed again after about one interval: 5 s keeps it out while the
        // retries below come.
        LOAD_REFRESH_MS: "5000",
        ...UNLIMITED_QUOTAS,
      }),
    );
    try {
      // Both loads known first (a first probe through the proxy slower than 300 ms is tried again).
      await eventually(() => expect(balancer.view.status().map((s) => s.healthy)).toEqual([true, true]), {
        timeoutMs: 20_000,
      });
      const operator = internalClient<BalancerRouter>(balancer.url, {
        timeoutMs: 10_000,
        token: grid.serviceToken,
      });
      const req = { vehicleId: "ev-unsure", maxKw: 11, durationS: 600, idempotencyKey: "order-7" };
      const reasonOf = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (err: unknown) => errorDataOf(err)?.reason,
        );
      expect(await reasonOf(operator.dispatch.mutate(req))).toBe("SUBSTATION_TIMEOUT");
      // The same request again, and another for the same vehicle: substation-1 may hold the session.
      // Before: both went to substation-2, which admitted one (a second session if the first had landed).
      expect(await reasonOf(operator.dispatch.mutate(req))).toBe("HOME_SUBSTATION_UNAVAILABLE");
      expect(await reasonOf(operator.dispatch.mutate({ ...req, idempotencyKey: "order-8" }))).toBe(
        "HOME_SUBSTATION_UNAVAILABLE",
      );
      expect(second.station.list("all", 100)).toEqual([]);
      // substation-1 answers again: the retry gets its session there.
      hang = false;
      const granted = await eventually(
        async () => {
          const r = await operator.dispatch.mutate(req);
          expect(r.session.substationId).toBe("substation-1");
          return r;
        },
        { timeoutMs: 20_000 },
      );
      expect(granted.session.vehicleId).toBe("ev-unsure");
      expect(second.station.list("all", 100)).toEqual([]);
    } finally {
      await balancer.stop();
    }
  });
});

/**
 * A pin (or cap) the gateway asks a substation for and does not get is asked for again, with back-off: after
 * a call that timed out or lost its link, and for a charger offline at what it may still draw, after a refusal
 * for room (it fits once others leave). Before, either was logged and never sent again: the substation shared
 * out the power that charger may draw, and the others were given limits break before make never let them
 * have, or more than the site (found by a hostile-charger probe).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { startBalancer } from "@evgrid/balancer/app";
import { readEnv as balancerEnv } from "@evgrid/balancer/env";
import { walkInVehicleId } from "@evgrid/contract";
import { UNLIMITED_QUOTAS } from "@evgrid/kit";
import { eventually, faultyProxy, startGrid, startOcppGateway } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe("a pin the substation did not take", () => {
  test("an offline charger's pin refused for room is tried again: the substation holds what it may draw", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    await using ocpp = await startOcppGateway(grid, {
      OCPP_OFFLINE_GRACE_S: "120",
      OCPP_WALKIN_MIN_KW: "4.2",
      OCPP_CALL_TIMEOUT_MS: "20000",
    });
    const allocated = (vehicle: string) =>
      grid.substations[0]?.station.list("active", 10).find((s) => s.vehicleId === walkInVehicleId(vehicle))
        ?.allocatedKw;
    let slow = false;
    const b = await ocpp.charger("cp-b-pin", {
      maxKw: 22,
      behaviour: { profileDelayMs: () => (slow ? 60_000 : 0), stopWhenAsked: false },
    });
    await b.startTransaction(1, "ev-b-pin");
    await eventually(() => expect(b.limit(1)).toBe(22_000));
    slow = true; // from now on B takes its time answering
    const c = await ocpp.charger("cp-c-pin", { maxKw: 22 });
    const d = await ocpp.charger("cp-d-pin", { maxKw: 22 });
    await c.startTransaction(1, "ev-c-pin");
    await d.startTransaction(1, "ev-d-pin");
    await eventually(() => expect(b.pendingProfiles).toBe(1)); // its decrease to 10 kW, unanswered
    expect(allocated("ev-b-pin")).toBe(10);
    // B goes offline with the decrease unanswered: it may still draw 22 kW.
    await b.close();
    // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
    const pusher = (ocpp.gateway.gateway as any).pusher;
    await eventually(() => expect(pusher.heldW("cp-b-pin", 1)).toBe(22_000));
    // D leaves: B's 22 kW pin would fit beside C's minimum now.
    await d.stopTransaction(1);
    await eventually(() => expect(allocated("ev-d-pin")).toBeUndefined());
    await eventually(
      () =>
        expect({
          gatewayCountsBW: pusher.heldW("cp-b-pin", 1),
          substationHoldsForB: allocated("ev-b-pin"),
          substationHoldsForC: allocated("ev-c-pin"),
          cLimitW: c.limit(1),
        }).toEqual({
          gatewayCountsBW: 22_000,
          substationHoldsForB: 22,
          substationHoldsForC: 8,
          cLimitW: 8000,
        }),
      { timeoutMs: 15_000 },
    );
  });

  test("a pin whose call failed once is sent again", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    grid.substations[0]?.station.setLimit(30);
    // The gateway reaches substation-1 through a proxy that swallows the first setSessionCap.
    let swallowed = 0;
    using proxy = faultyProxy(
      grid.substations[0]?.url ?? "",
      (p) => p === "setSessionCap" && swallowed++ === 0,
    );
    const balancer = await startBalancer(
      balancerEnv({
        PORT: "0",
        SUBSTATION_URLS: proxy.url,
        LOG_QUIET: "true",
        SERVICE_TOKEN: grid.serviceToken,
        ...UNLIMITED_QUOTAS,
      }),
    );
    try {
      await using ocpp = await startOcppGateway(
        { balancer: { url: balancer.url }, serviceToken: grid.serviceToken },
        { OCPP_CALL_TIMEOUT_MS: "1500" },
      );
      const allocated = (vehicle: string) =>
        grid.substations[0]?.station.list("active", 10).find((s) => s.vehicleId === walkInVehicleId(vehicle))
          ?.allocatedKw;
      const honest = await ocpp.charger("cp-honest-lost", { maxKw: 22 });
      await honest.startTransaction(1, "ev-honest-lost");
      await eventually(() => expect(honest.limit(1)).toBe(22_000));
      const refuser = await ocpp.charger("cp-refuser-lost", {
        maxKw: 22,
        behaviour: { profileAnswer: "Rejected" },
      });
      await refuser.startTransaction(1, "ev-refuser-lost");
      await ocpp.txSession("cp-refuser-lost");
      // biome-ignore lint/suspicious/noExplicitAny: the test reads the gateway's books.
      const gw = ocpp.gateway.gateway as any;
      // The pin was sent, swallowed, timed out (its limits put back), and sent again.
      await eventually(
        () =>
          expect({
            pinSentAgain: proxy.calls("setSessionCap") >= 2,
            refuserManaged: gw.unmanagedCount() === 0,
            substationHoldsForRefuser: allocated("ev-refuser-lost"),
            substationHoldsForHonest: allocated("ev-honest-lost"),
            honestLimitW: honest.limit(1),
            gatewayCountsW: gw.pusher.committedW("substation-1"),
          }).toEqual({
            pinSentAgain: true,
            refuserManaged: false,
            substationHoldsForRefuser: 22,
            substationHoldsForHonest: 8,
            honestLimitW: 8000,
            gatewayCountsW: 30_000,
          }),
        { timeoutMs: 15_000 },
      );
    } finally {
      await balancer.stop();
    }
  });
});

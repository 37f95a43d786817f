/**
 * Deadlines travel: every internal call carries what is left of its caller's deadline, a substation never
 * starts a session after it, and an answer that cannot say whether a session started hands back the key
 * that settles it.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { errorDataOf } from "@evgrid/contract";
import { BUDGET_HEADER, classifyCallFailure, internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { eventually, faultyProxy, type Json, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

/** One raw message on a link, as any client of tRPC's WebSocket protocol sends it; resolves with the answer. */
async function overLink(url: string, token: string, message: object): Promise<{ error?: { data?: object } }> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`, {
    headers: { authorization: `Bearer ${token}` },
  } as unknown as string[]);
  try {
    return await new Promise((resolve, reject) => {
      ws.addEventListener("open", () => ws.send(JSON.stringify(message)));
      ws.addEventListener("message", (e) => resolve(JSON.parse(String(e.data))));
      ws.addEventListener("error", () => reject(new Error("link failed")));
    });
  } finally {
    ws.close();
  }
}

describe("a substation and a late startSession", () => {
  test("refused DEADLINE_EXCEEDED over a link and over HTTP, nothing started; a retried key still gets its session", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const sub = grid.substations[0] as (typeof grid.substations)[number];
    const token = grid.serviceToken;
    const late = await overLink(sub.url, token, {
      id: 1,
      method: "mutation",
      params: { path: "startSession", input: { vehicleId: "ev-late-link", durationS: 60 } },
      budgetMs: 0,
    });
    expect(late.error?.data).toMatchObject({ reason: "DEADLINE_EXCEEDED", code: "SERVICE_UNAVAILABLE" });

    const overHttp = await fetch(`${sub.url}/trpc/startSession`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", [BUDGET_HEADER]: "0" },
      body: JSON.stringify({ vehicleId: "ev-late-http", durationS: 60 }),
    });
    expect(overHttp.status).toBe(503);
    expect(((await overHttp.json()) as Json).error.data.reason).toBe("DEADLINE_EXCEEDED");
    expect(sub.station.list("all", 100).map((s) => s.vehicleId)).toEqual([]);

    // A key that already started its session is answered with it, late or not: a refusal would say "none".
    const first = await overLink(sub.url, token, {
      id: 2,
      method: "mutation",
      params: {
        path: "startSession",
        input: { vehicleId: "ev-key", durationS: 60, idempotencyKey: "k-late" },
      },
      budgetMs: 5000,
    });
    const replay = (await overLink(sub.url, token, {
      id: 3,
      method: "mutation",
      params: {
        path: "startSession",
        input: { vehicleId: "ev-key", durationS: 60, idempotencyKey: "k-late" },
      },
      budgetMs: 0,
    })) as { result?: { data?: { replayed?: boolean; session?: { sessionId?: string } } } };
    expect(replay.result?.data?.replayed).toBe(true);
    expect(replay.result?.data?.session?.sessionId).toBe(
      (first as { result?: { data?: { session?: { sessionId?: string } } } }).result?.data?.session
        ?.sessionId,
    );
  });

  test("the internal client does not send a call whose deadline has passed: DEADLINE_EXCEEDED, certainly not run", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    using proxy = faultyProxy(grid.substations[0]?.url as string, () => false);
    for (const transport of ["ws", "http"] as const) {
      const client = internalClient<SubstationRouter>(proxy.url, {
        timeoutMs: 5000,
        token: grid.serviceToken,
        transport,
      });
      const err = await client.startSession
        .mutate(
          { vehicleId: `ev-${transport}`, durationS: 60 },
          { context: { deadlineAtMs: Date.now() - 1 } },
        )
        .catch((e: unknown) => e);
      expect(errorDataOf(err)?.reason).toBe("DEADLINE_EXCEEDED");
      expect(classifyCallFailure(err)).toBe("answered");
    }
    expect(proxy.calls("startSession")).toBe(0);
  });
});

describe("charge-api -> balancer -> substation", () => {
  test("a public caller's budget reaches the substation, less what the hops used", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    using proxy = faultyProxy(grid.substations[0]?.url as string, () => false);
    await using outer = await startGrid({
      capacitiesKw: [],
      serviceToken: grid.serviceToken,
      // Every hop's own limit is 60 s: only the caller's 10 s can bound what reaches the substation.
      balancer: { SUBSTATION_URLS: proxy.url, CALL_TIMEOUT_MS: "60000", DISPATCH_DEADLINE_MS: "60000" },
      chargeApi: { CALL_TIMEOUT_MS: "60000" },
    });
    const res = await fetch(`${outer.api.url}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json", [BUDGET_HEADER]: "10000" },
      body: JSON.stringify({ vehicleId: "ev-budget", durationS: 60 }),
    });
    expect(res.status).toBe(200);
    const [budgetMs] = proxy.budgets("startSession");
    // At most what the caller gave, far below what the hops would have given.
    expect(budgetMs).toBeGreaterThan(0);
    expect(budgetMs).toBeLessThanOrEqual(10_000);
  });

  test("an uncertain answer hands back the key the charge-api made, and a retry with it settles", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    let hanging = true;
    using proxy = faultyProxy(grid.substations[0]?.url as string, (p) => hanging && p === "startSession");
    await using outer = await startGrid({
      capacitiesKw: [],
      serviceToken: grid.serviceToken,
      balancer: { SUBSTATION_URLS: proxy.url, CALL_TIMEOUT_MS: "300" },
    });
    // Its first load, through the proxy, has come (300 ms may not be enough for the first one).
    await eventually(async () =>
      expect((await outer.operator.listSubstations.query())[0]?.healthy).toBe(true),
    );
    const err = await outer.client.requestCharge
      .mutate({ vehicleId: "ev-unsure", durationS: 60 })
      .catch((e: unknown) => e);
    const data = errorDataOf(err);
    expect(data?.reason).toBe("SUBSTATION_TIMEOUT");
    expect(data?.details).toMatchObject({ uncertain: true });
    const key = data?.details?.idempotencyKey as string;
    expect(key).toStartWith("auto:");
    expect((err as Error).message).toContain(key);

    hanging = false;
    // The substation that did not answer was taken out of rotation: the retry waits until it is back.
    await eventually(async () =>
      expect((await outer.operator.listSubstations.query())[0]?.healthy).toBe(true),
    );
    const settled = await outer.client.requestCharge.mutate({
      vehicleId: "ev-unsure",
      durationS: 60,
      idempotencyKey: key,
    });
    const sessions = grid.substations[0]?.station.list("all", 100) ?? [];
    expect(sessions.map((s) => [s.sessionId, s.idempotencyKey])).toEqual([[settled.sessionId, key]]);
  });

  test("a waiter whose deadline passes is told DEADLINE_EXCEEDED, not that its caller hung up", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2] });
    await grid.client.requestCharge.mutate({ vehicleId: "holder", durationS: 60 });
    // Straight to the balancer over a link, as the charge-api calls it: willing to wait 20 s, 300 ms left.
    const answer = await overLink(grid.balancer.url, grid.serviceToken, {
      id: 1,
      method: "mutation",
      params: {
        path: "dispatch",
        input: { vehicleId: "late-waiter", durationS: 60, waitS: 20, owner: "addr:10.0.0.9" },
      },
      budgetMs: 300,
    });
    // Before: 499 CALLER_GONE, which the charge-api passed on when it came before its own deadline fired.
    expect(answer.error?.data).toMatchObject({ reason: "DEADLINE_EXCEEDED", code: "SERVICE_UNAVAILABLE" });
  });

  test("a waiter whose caller gave up is never admitted when power frees up", async () => {
    await using grid = await startGrid({ capacitiesKw: [4.2], balancer: { LOAD_REFRESH_MS: "100" } });
    const holder = await grid.client.requestCharge.mutate({ vehicleId: "holder", durationS: 60 });
    // Willing to wait 20 s, but its caller gives up after 300 ms: the deadline travels with the wait.
    const res = await fetch(`${grid.api.url}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json", [BUDGET_HEADER]: "300" },
      body: JSON.stringify({ vehicleId: "gave-up", durationS: 60, waitS: 20 }),
    });
    expect(res.status).toBe(503);
    await grid.operator.stopSession.mutate({ sessionId: holder.sessionId });
    // The power that freed up goes to the next caller, not to the one that left: it would have been first.
    await eventually(async () => {
      expect(
        (await grid.client.requestCharge.mutate({ vehicleId: "next", durationS: 60 })).sessionId,
      ).toBeDefined();
    });
    const vehicles = grid.substations[0]?.station.list("all", 100).map((s) => s.vehicleId);
    expect(vehicles?.sort()).toEqual(["holder", "next"]);
  });
});

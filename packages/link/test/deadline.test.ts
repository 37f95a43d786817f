/**
 * Deadlines on a link (deadline.ts): our client sends what is left of each call's budget as `budgetMs`, our
 * server hands the procedure the deadline it means and lets the call go once it passes, and a call whose
 * deadline passed before it was sent is refused unsent.
 */
import { describe, expect, test } from "bun:test";
import { errorDataOf, reasons } from "@evgrid/contract";
import { initTRPC } from "@trpc/server";
import { classifyCallFailure } from "../src/call-failure.ts";
import { deadlineFromBudget } from "../src/deadline.ts";
import { closeLink, internalClient } from "../src/internal-client.ts";
import { linkServer } from "../src/link-server.ts";
import { parseFrame } from "../src/messages.ts";
import type { LinkData } from "../src/server-types.ts";
import { Moments } from "./conformance-router.ts";

const TOKEN = "deadline-test-token-of-at-least-32-characters";

function deadlineRouter(moments: Moments, seen: { calls: number }) {
  const t = initTRPC.context<{ deadlineAtMs: number | null }>().create();
  return t.router({
    deadline: t.procedure.query(({ ctx }) => {
      seen.calls++;
      return ctx.deadlineAtMs;
    }),
    // Runs until its signal aborts; no one but the server's deadline aborts it here.
    wait: t.procedure.mutation(async ({ signal }) => {
      await new Promise<void>((resolve) =>
        signal?.addEventListener("abort", () => resolve(), { once: true }),
      );
      moments.reach("aborted");
      return "let go";
    }),
  });
}
type DeadlineRouter = ReturnType<typeof deadlineRouter>;

async function start() {
  const moments = new Moments();
  const seen = { calls: 0 };
  const links = linkServer({
    router: deadlineRouter(moments, seen),
    authorize: (authorization) => authorization === `Bearer ${TOKEN}`,
    createContext: (_trace, deadlineAtMs) => ({ deadlineAtMs }),
  });
  const server = Bun.serve<LinkData>({
    hostname: "127.0.0.1",
    port: 0,
    websocket: links.websocket,
    fetch: (req, srv) => links.upgrade(req, srv),
  });
  const client = internalClient<DeadlineRouter>(`http://127.0.0.1:${server.port}`, {
    transport: "ws",
    token: TOKEN,
    timeoutMs: 60_000,
  });
  return {
    client,
    moments,
    seen,
    async [Symbol.asyncDispose]() {
      client[closeLink]();
      await links.drain(0);
      await server.stop(true);
    },
  };
}

describe("deadlines on a link", () => {
  test("budgetMs is read beside params; a budget becomes a deadline on the receiver's clock, capped", () => {
    const [msg] = parseFrame('{"id":1,"method":"query","params":{"path":"x"},"budgetMs":250}') ?? [];
    expect(msg?.budgetMs).toBe(250);
    expect(deadlineFromBudget(msg?.budgetMs, 1_000)).toBe(1_250);
    expect(deadlineFromBudget("40", 1_000)).toBe(1_040);
    expect(deadlineFromBudget(-5, 1_000)).toBe(1_000);
    expect(deadlineFromBudget(1e12, 0)).toBe(86_400_000);
    // tRPC's own clients send none: no deadline.
    expect(deadlineFromBudget(undefined)).toBeNull();
    expect(deadlineFromBudget("soon")).toBeNull();
  });

  test("the caller's deadline, not the client's timeout, reaches the procedure as ctx.deadlineAtMs", async () => {
    await using end = await start();
    const budgetMs = 30_000; // half the client's 60 s timeout
    const seenDeadline = await end.client.deadline.query(undefined, {
      context: { deadlineAtMs: Date.now() + budgetMs },
    });
    // The receiver adds at most the budget to its clock when the call arrives, before the answer is back.
    expect(seenDeadline).not.toBeNull();
    expect(seenDeadline as number).toBeLessThanOrEqual(Date.now() + budgetMs);
  });

  test("a call whose deadline passed is refused unsent: DEADLINE_EXCEEDED, answered", async () => {
    await using end = await start();
    const late = await end.client.deadline
      .query(undefined, { context: { deadlineAtMs: Date.now() - 1 } })
      .catch((err: unknown) => err);
    expect(errorDataOf(late)?.reason).toBe(reasons.DEADLINE_EXCEEDED);
    expect(classifyCallFailure(late)).toBe("answered");
    // The next call is the first the server ran: the late one never reached it.
    await end.client.deadline.query();
    expect(end.seen.calls).toBe(1);
  });

  test("a sender stalled between a call and the end of its turn: the budget sent is what is left when it leaves", async () => {
    await using end = await start();
    await end.client.deadline.query(); // the link open: the calls below leave at the end of this turn
    const stalledMs = 300;
    const late = end.client.deadline
      .query(undefined, { context: { deadlineAtMs: Date.now() + 100 } })
      .catch((err: unknown) => err);
    const onTime = end.client.deadline.query(undefined, { context: { deadlineAtMs: Date.now() + 30_000 } });
    // The process stalls (a collector pause, a frozen VM) before the turn ends and the frame leaves.
    Bun.sleepSync(stalledMs);
    // The first call's deadline passed while it waited to leave: refused unsent, as a late call is.
    expect(errorDataOf(await late)?.reason).toBe(reasons.DEADLINE_EXCEEDED);
    expect(classifyCallFailure(await late)).toBe("answered");
    // The second left with what was left of its 30 s then, not what was left when it was made: the
    // receiver's deadline (its clock at receipt plus the budget) is over by the time the answer is back.
    const seenDeadline = (await onTime) as number;
    expect(seenDeadline).toBeLessThanOrEqual(Date.now() + 30_000 - stalledMs);
    expect(end.seen.calls).toBe(2); // the opening call and the one on time: the late one never ran
  });

  test("a call aborted in the turn it was made never leaves: the server runs nothing, is sent no stop", async () => {
    await using end = await start();
    await end.client.deadline.query(); // the link open: the call below would leave at the end of this turn
    const controller = new AbortController();
    const call = end.client.deadline
      .query(undefined, { context: { signal: controller.signal } })
      .catch((e: unknown) => e);
    controller.abort();
    expect(await call).toBeInstanceOf(Error);
    await end.client.deadline.query();
    expect(end.seen.calls).toBe(2); // the opening call and the last: the aborted one never ran
  });

  test("the server lets a call go once its deadline passes (its signal aborts, the link stays up)", async () => {
    await using end = await start();
    // The link open first: a 200 ms call must reach the server, not give up opening it on a slow machine.
    await end.client.deadline.query();
    const failed = end.client.wait
      .mutate(undefined, { context: { timeoutMs: 200 } })
      .catch((e: unknown) => e);
    await end.moments.reached("aborted");
    expect(classifyCallFailure(await failed)).toBe("uncertain");
    // The link is still up: only the deadline let the call go.
    expect(await end.client.deadline.query()).not.toBeNull();
  });
});

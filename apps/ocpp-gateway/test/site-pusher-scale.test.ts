/**
 * The per-site pusher at bench scale (2,000 chargers on one substation), with a scripted transport whose
 * answers arrive one per task, as they do from 2,000 sockets. Found by `bun run bench:ocpp` at 2,500
 * charging: each answer planned the whole site again, so one re-share's answers cost 2,500 passes over
 * 2,500 connectors (6.5 s of gateway CPU) and the next level event waited behind them.
 */
import { describe, expect, test } from "bun:test";
import type { PushTransport } from "../src/push-transport.ts";
import { SitePusher } from "../src/site-pusher.ts";

const N = 2000;
const MAX_W = 11_000;
const settings = { backoffMs: 60_000, backoffMaxMs: 600_000, defaultW: 0 };
const nextTask = () => new Promise<void>((resolve) => setImmediate(resolve));

function scripted() {
  const calls: { id: string; watts: number; answer: (s: string) => void }[] = [];
  const transport: PushTransport = {
    send: (id, _c, _tx, watts) => new Promise<string>((answer) => calls.push({ id, watts, answer })),
    outcome: () => {},
    managed: () => {},
  };
  return { calls, transport };
}

const target = (i: number) => ({
  chargePointId: `cp-${i}`,
  substationId: "s1",
  connectorId: 1,
  transactionId: `t${i}`,
  maxW: MAX_W,
});

describe("SitePusher at scale", () => {
  test("2,000 chargers: after a burst of new transactions everyone is raised, re-shares cost linear planning, and the site is never over", async () => {
    const { calls, transport } = scripted();
    const p = new SitePusher(transport, settings);
    const budgetW = N * MAX_W;
    p.setBudget("s1", budgetW / 1000);
    let accepted = 0;
    /** Answers every call out, one per task, checking the books after each. */
    const answerAll = async () => {
      while (calls.length > 0) {
        for (const c of calls.splice(0)) {
          c.answer("Accepted");
          await nextTask();
          accepted += 1;
          expect(p.committedW("s1")).toBeLessThanOrEqual(budgetW);
        }
        await nextTask(); // a pass planned after the last answer may send more
      }
    };
    for (let i = 0; i < N; i++) void p.online(`cp-${i}`, "s1");
    await nextTask();
    await answerAll();
    // A burst of new transactions, each at its walk-in minimum first, then everyone raised to its maximum.
    for (let i = 0; i < N; i++) p.opened(target(i));
    for (let i = 0; i < N; i++) p.want(target(i), 1400, 0);
    await nextTask();
    await answerAll();
    for (let i = 0; i < N; i++) p.want(target(i), MAX_W, 0);
    await nextTask();
    await answerAll();
    for (let i = 0; i < N; i++) expect(p.acceptedW(`cp-${i}`, 1)).toBe(MAX_W);
    // Re-shares down and up, as bench:ocpp does: each answer must cost a few connectors' checks, not N.
    for (const shareW of [6600, 8250, 6600]) {
      const workBefore = p.planWork;
      for (let i = 0; i < N; i++) p.want(target(i), shareW, 0);
      await nextTask();
      await answerAll();
      for (let i = 0; i < N; i++) expect(p.acceptedW(`cp-${i}`, 1)).toBe(shareW);
      const work = p.planWork - workBefore;
      // Linear: a handful of checks per connector. Planning the whole site per answer was N * N = 4,000,000.
      expect(work).toBeLessThanOrEqual(10 * N);
    }
    expect(accepted).toBe(N * 6);
    p.close();
  });

  test("a transaction joining a full site waits for the others' cuts, and their answers cost linear planning", async () => {
    const { calls, transport } = scripted();
    const p = new SitePusher(transport, settings);
    const shareW = 5000;
    const budgetW = N * shareW;
    p.setBudget("s1", budgetW / 1000);
    const answerAll = async () => {
      while (calls.length > 0) {
        for (const c of calls.splice(0)) {
          c.answer("Accepted");
          await nextTask();
          expect(p.committedW("s1")).toBeLessThanOrEqual(budgetW);
        }
        await nextTask();
      }
    };
    for (let i = 0; i <= N; i++) void p.online(`cp-${i}`, "s1");
    await nextTask();
    await answerAll();
    for (let i = 0; i < N; i++) p.opened(target(i));
    for (let i = 0; i < N; i++) p.want(target(i), shareW, 0);
    await nextTask();
    await answerAll();
    // One more: everyone's share is cut a little, and the newcomer's rise waits for all N cuts' answers.
    const workBefore = p.planWork;
    const joinedW = Math.floor(budgetW / (N + 1));
    p.opened(target(N));
    for (let i = 0; i <= N; i++) p.want(target(i), joinedW, 0);
    await nextTask();
    await answerAll();
    for (let i = 0; i <= N; i++) expect(p.acceptedW(`cp-${i}`, 1)).toBe(joinedW);
    // The blocked rise is looked at again per answer; the site's sum must not be recounted each time (N * N).
    expect(p.planWork - workBefore).toBeLessThanOrEqual(10 * N);
    p.close();
  });
});

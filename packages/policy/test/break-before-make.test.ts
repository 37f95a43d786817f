import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  answered,
  budgetWatts,
  type ConnectorPower,
  committedW,
  sendable,
  sent,
  siteCommittedW,
  wattsDown,
} from "../src/index.ts";

const conn = (acceptedW: number, targetW: number, maxW = 22_000): ConnectorPower => ({
  acceptedW,
  inFlightW: null,
  targetW,
  maxW,
  managed: true,
});
const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);

describe("break before make", () => {
  test("a raise waits until the decrease it needs is acknowledged", () => {
    // 40 kW site: A 20 -> 10, B 20 -> 30. B's raise needs A's 10 kW.
    const site = new Map([
      ["A", conn(20_000, 10_000, 40_000)],
      ["B", conn(20_000, 30_000, 40_000)],
    ]);
    expect(sendable(site, 40_000)).toEqual(["A"]);
    site.set("A", sent(site.get("A") as ConnectorPower));
    expect(sendable(site, 40_000)).toEqual([]); // A's answer not in yet: it may still draw 20 kW
    site.set("A", answered(site.get("A") as ConnectorPower, "accepted"));
    expect(sendable(site, 40_000)).toEqual(["B"]);
  });

  test("a charger that rejects or does not answer counts at its maximum", () => {
    const c = sent(conn(5000, 7000));
    expect(committedW(answered(c, "rejected"))).toBe(22_000);
    expect(committedW(answered(c, "timeout"))).toBe(22_000);
    expect(answered(c, "timeout").acceptedW).toBe(7000); // it may have applied it
    expect(committedW(answered(c, "lost"))).toBe(7000);
    expect(answered(answered(c, "rejected"), "accepted").managed).toBe(true);
  });

  test("finding 12: nine shares of 60 kW round down to within the site", () => {
    const shareKw = 60 / 9;
    expect(Math.round(shareKw * 1000) * 9).toBeGreaterThan(60_000); // what Math.round gave: 60,003 W
    expect(wattsDown(shareKw) * 9).toBeLessThanOrEqual(budgetWatts(60));
    expect(budgetWatts(43.3)).toBe(43_300);
  });

  test("with every charger answering, every target is reached in two rounds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(22_000), fc.nat(100)), { minLength: 1, maxLength: 30 }),
        (rows) => {
          const budgetW = sum(rows.map(([a]) => a)); // what they hold now fits
          const weights = sum(rows.map(([, w]) => w)) || 1;
          const site = new Map(
            rows.map(([a, w], i) => [i, conn(a, Math.floor((budgetW * w) / weights), budgetW)]),
          );
          for (let round = 0; round < 2; round++) {
            for (const k of sendable(site, budgetW)) site.set(k, sent(site.get(k) as ConnectorPower));
            for (const [k, c] of site) if (c.inFlightW !== null) site.set(k, answered(c, "accepted"));
            expect(siteCommittedW(site.values())).toBeLessThanOrEqual(budgetW);
          }
          return [...site.values()].every((c) => c.acceptedW === c.targetW);
        },
      ),
    );
  });
});

test("property: given only the waiting connectors and the whole site's sum, sendable picks what it picks from the whole site", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(22_000), fc.nat(22_000), fc.boolean(), fc.boolean()), { maxLength: 30 }),
      fc.nat(300_000),
      (rows, budgetW) => {
        const site = new Map(
          rows.map(([a, t, flying, managed], i) => [
            i,
            { acceptedW: a, inFlightW: flying ? t : null, targetW: t, maxW: 22_000, managed },
          ]),
        );
        const waiting = new Map(
          [...site].filter(([, c]) => c.inFlightW === null && c.targetW !== c.acceptedW),
        );
        expect(sendable(waiting, budgetW, siteCommittedW(site.values()))).toEqual(sendable(site, budgetW));
      },
    ),
  );
});

type Step =
  | { t: "reshare"; budgetW: number; weights: number[] }
  | { t: "answer"; pick: number; outcome: "accepted" | "timeout" | "lost"; applied: boolean }
  | { t: "pump" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant("reshare" as const),
    budgetW: fc.integer({ min: 0, max: 150_000 }),
    weights: fc.array(fc.nat(100), { minLength: 12, maxLength: 12 }),
  }),
  fc.record({
    t: fc.constant("answer" as const),
    pick: fc.nat(),
    outcome: fc.constantFrom("accepted" as const, "accepted" as const, "timeout" as const, "lost" as const),
    applied: fc.boolean(),
  }),
  fc.constant({ t: "pump" as const }),
);

describe("property: over random histories the chargers never hold more than the site", () => {
  test("Σ of the limits in force ≤ what the gateway counts ≤ the budget (or, after a cut, never rising)", () => {
    // 12 connectors of 22 kW; a few reject every limit (their default was refused: unmanaged, drawing up to
    // their maximum). Re-shares change targets and the budget at random; answers come in any order, some
    // time out or are lost (applied by the charger or not). `realW` is what each charger really enforces.
    fc.assert(
      fc.property(fc.nat(3), fc.array(stepArb), (rejecting, steps) => {
        const rej = Array.from({ length: 12 }, (_, i) => i < rejecting);
        const maxW = 22_000;
        const site = new Map<number, ConnectorPower>();
        const realW = new Map<number, number>();
        rej.forEach((r, i) => {
          site.set(i, { ...conn(0, 0, maxW), managed: !r });
          realW.set(i, r ? maxW : 0);
        });
        let budgetW = 150_000;
        // What the site may draw: the budget, or after a cut below what is held, what is held, never rising.
        let ceilingW = Math.max(budgetW, siteCommittedW(site.values()));
        let committedBefore = siteCommittedW(site.values());
        for (const step of steps) {
          if (step.t === "reshare") {
            budgetW = step.budgetW;
            const fixedW = sum(rej.map((r) => (r ? maxW : 0)));
            const total = sum(step.weights) || 1;
            const shareW = Math.max(0, budgetW - fixedW);
            site.forEach((c, i) => {
              const w = Math.min(maxW, Math.floor((shareW * (step.weights[i] ?? 0)) / total));
              site.set(i, { ...c, targetW: w });
            });
          } else if (step.t === "pump") {
            for (const k of sendable(site, budgetW)) site.set(k, sent(site.get(k) as ConnectorPower));
          } else {
            const flying = [...site].filter(([, c]) => c.inFlightW !== null);
            const hit = flying[step.pick % Math.max(1, flying.length)];
            if (hit) {
              const [k, c] = hit;
              if (rej[k]) site.set(k, answered(c, "rejected"));
              else {
                if (step.outcome === "accepted" || step.applied) realW.set(k, c.inFlightW as number);
                site.set(k, answered(c, step.outcome));
              }
            }
          }
          const committed = siteCommittedW(site.values());
          const realSumW = sum(realW.values());
          expect(realSumW).toBeLessThanOrEqual(committed);
          // The planner's sends never take the books over the budget, nor further over it.
          if (step.t === "pump") expect(committed).toBeLessThanOrEqual(Math.max(budgetW, committedBefore));
          // What the chargers really enforce stays within the site: after a cut, within what they held then,
          // shrinking as they acknowledge, down to the new budget.
          const heldW = sum(
            [...site].map(([k, c]) => (rej[k] ? maxW : Math.max(c.acceptedW, c.inFlightW ?? 0))),
          );
          if (step.t === "reshare") ceilingW = Math.max(budgetW, Math.min(ceilingW, heldW));
          expect(realSumW).toBeLessThanOrEqual(ceilingW);
          ceilingW = Math.max(budgetW, Math.min(ceilingW, heldW));
          committedBefore = committed;
        }
      }),
      { numRuns: 300 },
    );
  });
});

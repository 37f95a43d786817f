/**
 * The store paused for 5 s (kill -STOP of the redis-server, then -CONT) under load through 2 balancer
 * replicas over 3 substations, every part a real process: the chaos run's grid with one fault, its whole
 * history checked against the substations' sessions (apps/load-tester/src/chaos).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { type ChaosReport, runChaos } from "@evgrid/load-tester/chaos";
import { tally } from "@evgrid/load-tester/chaos-check";

setDefaultTimeout(90_000);

let report: ChaosReport | undefined;
/** One run shared by the tests below (each checks its own invariants of the same history). */
async function paused(): Promise<ChaosReport> {
  report ??= await runChaos({
    seed: 18,
    requests: 300,
    durationS: 10,
    faults: 1,
    plan: [{ atMs: 2000, kind: "pause_store", forMs: 5000, replica: 0 }],
  });
  return report;
}

const broken = (r: ChaosReport, ...invariants: string[]) =>
  r.violations.filter((v) => invariants.includes(v.invariant)).map((v) => `${v.invariant}: ${v.detail}`);

describe("the store paused 5 s under load through 2 replicas", () => {
  test("no request hangs past its deadline, and every uncertain answer hands back its key", async () => {
    const r = await paused();
    console.log(
      `store paused 5 s (seed ${r.seed}): ${JSON.stringify(r.counts)} ${JSON.stringify(tally(r.violations))}`,
    );
    expect(r.counts.requests).toBeGreaterThan(250);
    expect(broken(r, "past_deadline", "uncertain_without_key")).toEqual([]);
  });

  test("no request answered with a certain refusal has a session; a retry with an uncertain answer's key settles it", async () => {
    const r = await paused();
    expect(
      broken(
        r,
        "certain_refusal_made_session",
        "uncertain_unsettled",
        "uncertain_settled_wrong",
        "ok_names_no_session",
      ),
    ).toEqual([]);
  });

  test("no vehicle holds two sessions at once, no key makes two sessions", async () => {
    const r = await paused();
    expect(broken(r, "vehicle_two_active_sessions", "key_two_sessions")).toEqual([]);
  });
});

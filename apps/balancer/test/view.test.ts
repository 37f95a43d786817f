import { describe, expect, test } from "bun:test";
import { manualScheduler } from "@evgrid/kit";
import { GridView } from "../src/view.ts";
import { fakeSubstation, loadOf } from "./fakes.ts";

/** A view over fake substations at URLs a, b, ..., on a hand-driven clock, with no jitter. */
function viewOf(
  subs: Record<string, ReturnType<typeof fakeSubstation>>,
  maxBackoffMs = 10_000,
  urls = Object.keys(subs),
) {
  const clock = manualScheduler();
  const view = new GridView({
    urls,
    client: (url) => (subs[url] as ReturnType<typeof fakeSubstation>).client,
    maxBackoffMs,
    now: clock.now,
    scheduler: clock,
    random: () => 0.5,
  });
  return { view, clock };
}
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("GridView", () => {
  test("a refresh learns each substation's load; one that fails leaves rotation with its reason", async () => {
    const a = fakeSubstation(() => loadOf("substation-1"));
    const b = fakeSubstation(() => {
      throw new Error("connection refused");
    });
    const { view } = viewOf({ a: a, b: b });
    await view.refresh();
    expect(view.status().map((s) => [s.substationId, s.healthy, s.lastError])).toEqual([
      ["substation-1", true, null],
      [null, false, "connection refused"],
    ]);
    expect(view.candidates().map((m) => m.id)).toEqual(["substation-1"]);
  });

  test("a failing substation is probed after 1, 2, 4 ... refresh intervals, and rejoins when it answers", async () => {
    let up = false;
    const s = fakeSubstation(() => {
      if (!up) throw new Error("timed out");
      return loadOf("substation-1");
    });
    const { view, clock } = viewOf({ s }, 800);
    await view.start(100);
    const probesAt: number[] = [];
    let seen = s.probes;
    for (let t = 0; t < 3000; t += 50) {
      clock.advance(50);
      await flush();
      if (s.probes > seen) probesAt.push(clock.now());
      seen = s.probes;
    }
    // The first probe (at start) fails; then it is left alone 100, 200, 400, 800, 800 ms (capped).
    expect(probesAt.slice(0, 5)).toEqual([100, 300, 700, 1500, 2300]);
    up = true;
    clock.advance(1000);
    await flush();
    expect(view.status()[0]).toMatchObject({
      healthy: true,
      consecutiveFailures: 0,
      substationId: "substation-1",
    });
    view.stop();
    expect(clock.pending).toBe(0);
  });

  test("of two snapshots the newer wins, by version or by a restart's later measurement", () => {
    const { view } = viewOf({ a: fakeSubstation(() => loadOf("substation-1")) });
    const [m] = view.members;
    if (!m) throw new Error("no member");
    view.record(m, loadOf("substation-1", { version: 5, activeSessions: 5 }));
    view.record(m, loadOf("substation-1", { version: 4, activeSessions: 4 }));
    expect(m.load?.activeSessions).toBe(5);
    view.record(m, loadOf("substation-1", { version: 1, measuredAtMs: 10, activeSessions: 1 }));
    expect(m.load?.activeSessions).toBe(1);
  });

  test("an answer to a probe sent before a failure does not put the substation back in rotation", async () => {
    let release: (() => void) | undefined;
    const s = fakeSubstation(
      () => new Promise((resolve) => (release = () => resolve(loadOf("substation-1", { version: 9 })))),
    );
    const { view, clock } = viewOf({ s });
    const probe = view.refresh();
    clock.advance(10);
    const [m] = view.members;
    if (!m) throw new Error("no member");
    view.markFailed(m, "a call timed out");
    release?.();
    await probe;
    expect(m).toMatchObject({ healthy: false, lastError: "a call timed out" });
    expect(m.load?.version).toBe(9);
  });

  test("in-flight assignments count: a burst on one stale view spreads over the substations", async () => {
    const subs = {
      a: fakeSubstation(() => loadOf("substation-1")),
      b: fakeSubstation(() => loadOf("substation-2")),
    };
    const { view } = viewOf(subs);
    await view.refresh();
    const picks = [];
    for (let i = 0; i < 10; i++) {
      const m = view.best({ minKw: 4.2, maxKw: 11 });
      if (!m) throw new Error("none");
      view.beginAssignment(m, { minKw: 4.2, maxKw: 11 });
      picks.push(m.id);
    }
    expect(picks.filter((id) => id === "substation-1")).toHaveLength(5);
  });

  test("registered substations leave when their heartbeats stop; static ones stay", async () => {
    const subs = {
      a: fakeSubstation(() => loadOf("substation-1")),
      b: fakeSubstation(() => loadOf("substation-2")),
    };
    const { view, clock } = viewOf(subs, 10_000, ["a"]);
    const joined = await view.register("b");
    expect(joined).toMatchObject({ registered: true });
    clock.advance(5000);
    expect(view.expire(6000)).toEqual([]);
    clock.advance(2000);
    expect(view.expire(6000)).toEqual(["b"]);
    expect(view.members.map((m) => m.url)).toEqual(["a"]);
  });

  test("keeps the capacity in force and the largest site as members come, go, fail and drain", async () => {
    const subs = {
      a: fakeSubstation(() => loadOf("substation-1", { capacityKw: 150, effectiveCapacityKw: 150 })),
      b: fakeSubstation(() =>
        loadOf("substation-2", { capacityKw: 300, effectiveCapacityKw: 200, limitKw: 200 }),
      ),
    };
    const { view } = viewOf(subs);
    expect([view.capacityInForceKw, view.largestCapacityKw]).toEqual([0, 0]);
    await view.refresh();
    expect([view.capacityInForceKw, view.largestCapacityKw]).toEqual([350, 300]);
    const [a, b] = view.members;
    if (!a || !b) throw new Error("members");
    view.markFailed(b, "down");
    expect(view.capacityInForceKw).toBe(150);
    view.record(
      b,
      loadOf("substation-2", { capacityKw: 300, effectiveCapacityKw: 200, draining: true, version: 2 }),
    );
    expect(view.capacityInForceKw).toBe(150);
    view.record(
      a,
      loadOf("substation-1", { capacityKw: 150, effectiveCapacityKw: 90, limitKw: 90, version: 2 }),
    );
    expect(view.capacityInForceKw).toBe(90);
    expect(view.byId("substation-2")).toBe(b);
    // Summing what the members say gives the same, whatever happened in between.
    const summed = view.candidates().reduce((sum, m) => sum + (m.load?.effectiveCapacityKw ?? 0), 0);
    expect(view.capacityInForceKw).toBeCloseTo(summed, 9);
  });
});

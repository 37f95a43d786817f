/** A charger its meter caught drawing over its limit (overdraw.ts), in the pusher's books. */
import { expect, test } from "bun:test";
import { eventually } from "@evgrid/testing";
import { SitePusher } from "../src/site-pusher.ts";
import { answer, at, open, scripted } from "./scripted-transport.ts";

test("a charger caught drawing over its limit is counted at its maximum, whatever it accepts after, a reconnect too", async () => {
  // Found by a probe: after a reconnect its limit went again, it accepted, and the connector was counted at
  // that limit once more while its charger was still known to ignore it.
  const { calls, managed, outcomes, transport } = scripted();
  // Retried at once: every limit it is sent is answered here, so an acceptance has every chance to count.
  const p = new SitePusher(transport, { backoffMs: 1, backoffMaxMs: 1, defaultW: 0 });
  p.setBudget("s1", 100);
  void p.online("X", "s1");
  await eventually(() => expect(open(calls)).toHaveLength(1));
  answer(open(calls)[0]);
  await eventually(() => expect(p.hasDefault("X")).toBe(true));
  p.opened(at("X", 1, "t1", 22_000));
  p.want(at("X", 1, "t1", 22_000), 11_000, 0);
  await eventually(() => expect(open(calls)).toHaveLength(1));
  answer(open(calls)[0]);
  await eventually(() => expect(p.heldW("X", 1)).toBe(11_000));

  expect(p.ignoresLimits("X")).toBe(true);
  expect(p.ignoresLimits("X")).toBe(false); // known already
  expect(p.heldW("X", 1)).toBe(22_000);
  expect(managed).toEqual([["X", false]]);

  /** The next call to the connector (its default on connector 0), answered, and the answer taken. */
  const accept = async (connectorId: number, watts: number) => {
    const call = () => open(calls).find((c) => c.connectorId === connectorId && c.watts === watts);
    await eventually(() => expect(call()).toBeDefined());
    const taken = outcomes.length;
    answer(call());
    await eventually(() => expect(outcomes.slice(taken)).toContain(`X ${connectorId} ${watts} accepted`));
  };
  // A lower limit (a re-share), accepted: it is not believed.
  p.want(at("X", 1, "t1", 22_000), 5_000, 0);
  await accept(1, 5_000);
  expect(p.acceptedW("X", 1)).toBe(5_000);
  expect(p.heldW("X", 1)).toBe(22_000);
  // A reconnect: its default, then its limit again, accepted.
  p.offline("X");
  void p.online("X", "s1");
  await accept(0, 0);
  await accept(1, 5_000);
  expect(calls.filter((c) => c.connectorId === 1).length).toBeGreaterThanOrEqual(3);
  expect(p.heldW("X", 1)).toBe(22_000);
  expect(p.isManaged("X")).toBe(false);
  expect(p.committedW("s1")).toBe(22_000);
  expect(managed).toEqual([["X", false]]);
});

test("the energy the books allowed a connector: each limit it was counted at, for as long as it was", async () => {
  // A review: the check's unit tests modelled this themselves; here it is the pusher's own.
  let clock = 0;
  const { calls, transport } = scripted();
  const p = new SitePusher(transport, { backoffMs: 1, backoffMaxMs: 1, defaultW: 0 }, () => clock);
  p.setBudget("s1", 100);
  void p.online("X", "s1");
  await eventually(() => expect(open(calls)).toHaveLength(1));
  answer(open(calls)[0]); // the 0 W default
  await eventually(() => expect(p.hasDefault("X")).toBe(true));
  p.opened(at("X", 1, "t1", 22_000)); // at 0 W, under the default
  clock = 60_000;
  p.want(at("X", 1, "t1", 22_000), 22_000, clock);
  await eventually(() => expect(open(calls)).toHaveLength(1));
  answer(open(calls)[0]);
  await eventually(() => expect(p.acceptedW("X", 1)).toBe(22_000));
  clock = 660_000;
  p.want(at("X", 1, "t1", 22_000), 4_000, clock);
  await eventually(() => expect(open(calls)).toHaveLength(1));
  clock = 670_000; // the cut answered 10 s later: counted at 22 kW until then
  answer(open(calls)[0]);
  await eventually(() => expect(p.acceptedW("X", 1)).toBe(4_000));
  const a = p.allowance("X", 1, 970_000);
  // 0 W for 60 s, 22 kW for 610 s, 4 kW for 300 s.
  expect(a?.allowedWh).toBeCloseTo((22_000 * 610 + 4_000 * 300) / 3600, 6);
  expect(a?.openedAtMs).toBe(0);
  expect(a?.peakW).toBe(22_000); // the most since the last look
  expect(p.allowance("X", 1, 970_000)?.peakW).toBe(4_000);
});

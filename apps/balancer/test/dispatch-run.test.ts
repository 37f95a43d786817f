/**
 * A dispatch's walk through the substations, without sockets: stand-in members record what each was sent.
 * Here: a key the charge-api made for a request (`newKey`) is said to be new to the first substation asked
 * only, so no substation skips its journal for a key an earlier try may have left there.
 */
import { describe, expect, test } from "bun:test";
import { type DispatchRequest, dispatchRequestSchema } from "@evgrid/contract";
import { DispatchRun } from "../src/dispatch-run.ts";
import type { Claim } from "../src/types.ts";
import type { GridView, Member } from "../src/view.ts";
import { loadOf } from "./fakes.ts";

const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

/** Members that refuse the connection until `admitsFrom`, then admit; and what each was sent, in order. */
function grid(ids: string[], admitsFrom: string) {
  const sent: { at: string; newKey: unknown }[] = [];
  const members = ids.map((id) => ({
    id,
    healthy: true,
    load: loadOf(id),
    client: {
      startSession: {
        mutate: async (req: DispatchRequest) => {
          sent.push({ at: id, newKey: req.newKey });
          if (id !== admitsFrom) throw refused;
          return { session: { sessionId: `${id}.s`, substationId: id }, load: loadOf(id), replayed: false };
        },
      },
    },
  }));
  const view = {
    members,
    byId: (id: string) => members.find((m) => m.id === id),
    best: (_req: unknown, asked: Set<unknown>) => members.find((m) => !asked.has(m)),
    beginAssignment: () => {},
    endAssignment: () => {},
    record: () => {},
    markFailed: () => {},
    rank: () => ({ full: [] }),
  } as unknown as GridView;
  return { view, sent, members: members as unknown as Member[] };
}

const claim = (home?: string): Claim => ({
  home,
  trying: async () => {},
  finish: async () => {},
});
const options = { maxTries: 3, deadlineMs: 5000, callTimeoutMs: 1000 };
const request = dispatchRequestSchema.parse({
  vehicleId: "ev-1",
  durationS: 60,
  owner: "addr:203.0.113.9",
  idempotencyKey: "auto:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  newKey: true,
});

describe("a new key on a dispatch's walk", () => {
  test("only the first substation asked hears it is new; the next one after a failed try does not", async () => {
    const g = grid(["s1", "s2"], "s2");
    const run = new DispatchRun(g.view, request, options, Date.now, claim());
    expect((await run.run(undefined)).session.substationId).toBe("s2");
    expect(g.sent).toEqual([
      { at: "s1", newKey: true },
      { at: "s2", newKey: undefined },
    ]);
  });

  test("a key with a home (an earlier try went there) is never new, even to its first substation", async () => {
    const g = grid(["s1", "s2"], "s2");
    const run = new DispatchRun(g.view, request, options, Date.now, claim("s2"));
    await run.run("s2");
    expect(g.sent).toEqual([{ at: "s2", newKey: undefined }]);
  });
});

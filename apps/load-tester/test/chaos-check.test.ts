import { describe, expect, test } from "bun:test";
import {
  type Answer,
  checkHistory,
  type RequestRecord,
  type SessionRecord,
  tally,
} from "../src/chaos/check.ts";

const T = 1_000_000;

function req(i: number, answer: Answer, more: Partial<RequestRecord> = {}): RequestRecord {
  return {
    i,
    key: `k${i}`,
    vehicleId: `ev-${i}`,
    sentAtMs: T,
    deadlineAtMs: T + 1000,
    answeredAtMs: T + 100,
    answer,
    settle: [],
    ...more,
  };
}

function session(id: string, key: string | null, vehicleId: string, startedAtMs: number, endAtMs: number) {
  return { sessionId: id, idempotencyKey: key, vehicleId, startedAtMs, endAtMs } satisfies SessionRecord;
}

const check = (requests: RequestRecord[], sessions: SessionRecord[]) =>
  tally(checkHistory(requests, sessions, { slackMs: 500 }).violations);

describe("the chaos history checker", () => {
  test("a clean history: 200s naming their sessions, certain refusals with none, uncertain ones settled", () => {
    const requests = [
      req(1, { kind: "ok", sessionId: "s1", replayed: false }),
      req(2, { kind: "refused", reason: "GRID_FULL" }),
      req(
        3,
        { kind: "uncertain", reason: "SUBSTATION_TIMEOUT", key: "k3" },
        {
          settle: [{ kind: "ok", sessionId: "s3", replayed: true }],
        },
      ),
      req(
        4,
        { kind: "uncertain", reason: "UPSTREAM_UNAVAILABLE", key: "k4" },
        {
          settle: [{ kind: "hung" }, { kind: "refused", reason: "VEHICLE_ALREADY_CHARGING" }],
        },
      ),
      // Sent twice at once: one refused, the other started the key's session (a retry that succeeded).
      req(5, { kind: "refused", reason: "GRID_FULL" }),
      req(5, { kind: "ok", sessionId: "s5", replayed: false }),
    ];
    // ev-1 charges twice, one session after the other: no overlap.
    const sessions = [
      session("s1", "k1", "ev-1", T, T + 1000),
      session("s0", "other", "ev-1", T + 1000, T + 2000),
      session("s3", "k3", "ev-3", T, T + 1000),
      session("s5", "k5", "ev-5", T, T + 1000),
    ];
    const { violations, counts } = checkHistory(requests, sessions, { slackMs: 500 });
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({ ok: 2, uncertain: 2, settledWithSession: 1, settledNone: 1, sessions: 4 });
  });

  test("finds each broken invariant", () => {
    expect(
      check(
        [
          req(1, { kind: "ok", sessionId: "nowhere", replayed: false }),
          req(2, { kind: "refused", reason: "DEADLINE_EXCEEDED" }),
          req(3, { kind: "uncertain", reason: "SUBSTATION_TIMEOUT", key: null }, { settle: [] }),
          req(
            4,
            { kind: "uncertain", reason: "SUBSTATION_TIMEOUT", key: "k4" },
            {
              settle: [{ kind: "refused", reason: "GRID_FULL" }],
            },
          ),
          req(
            5,
            { kind: "hung" },
            { answeredAtMs: T + 9000, settle: [{ kind: "ok", sessionId: "s5", replayed: true }] },
          ),
        ],
        [
          session("s2", "k2", "ev-2", T, T + 1000),
          session("s4", "k4", "ev-4", T, T + 1000),
          session("s5", "k5", "ev-5", T, T + 1000),
          session("s5b", "k5", "ev-5", T + 500, T + 1500),
        ],
      ),
    ).toEqual({
      ok_names_no_session: 1,
      certain_refusal_made_session: 1,
      uncertain_without_key: 1,
      uncertain_unsettled: 1,
      uncertain_settled_wrong: 2,
      past_deadline: 1,
      key_two_sessions: 1,
      vehicle_two_active_sessions: 1,
    });
  });

  test("a retry told to ask again (the store cannot vouch yet) settles nothing: the next answer does", () => {
    const rebuilding: Answer = { kind: "refused", reason: "STATE_REBUILDING" };
    const sessions = [session("s1", "k1", "ev-1", T, T + 1000), session("s2", "k2", "ev-2", T, T + 1000)];
    const uncertain = (i: number): Answer => ({
      kind: "uncertain",
      reason: "SUBSTATION_TIMEOUT",
      key: `k${i}`,
    });
    expect(
      check(
        [
          // Asked again, then the key's session: settled, and rightly.
          req(1, uncertain(1), { settle: [rebuilding, { kind: "ok", sessionId: "s1", replayed: true }] }),
          // Only ever told to ask again: not settled (the key did make a session, which it never heard of).
          req(2, uncertain(2), { settle: [rebuilding] }),
        ],
        sessions,
      ),
    ).toEqual({ uncertain_unsettled: 1 });
  });
});

/**
 * The chaos run's history checker: every request and answer (and the retries that settled uncertain ones)
 * against every session the substations hold, active or ended. Pure: plain data in, violations out.
 */

/** What a requestCharge got back, in the terms of the guarantees. */
export type Answer =
  | { kind: "ok"; sessionId: string; replayed: boolean }
  /** A certain refusal: nothing was started for this request. */
  | {
      kind: "refused";
      reason: string;
      /** What the refusal said: which component refused, and why. */
      message?: string;
    }
  /** The answer says it cannot tell (`details.uncertain`), with the key to settle it by. */
  | { kind: "uncertain"; reason: string; key: string | null }
  /** No answer at all by the deadline plus the driver's grace: the request hung. */
  | { kind: "hung" };

/**
 * Refusals that say "ask again shortly" (the store cannot vouch yet, the key's substation is out): certain
 * that this try started nothing, but they say nothing of what the key's earlier try did, so they settle
 * nothing.
 */
export const askAgain: ReadonlySet<string> = new Set(["STATE_REBUILDING", "HOME_SUBSTATION_UNAVAILABLE"]);

export interface RequestRecord {
  i: number;
  key: string;
  vehicleId: string;
  sentAtMs: number;
  /** The deadline this request was given (sent as its budget). */
  deadlineAtMs: number;
  answeredAtMs: number;
  answer: Answer;
  /** Retries with the same key after the faults, until one is certain (at most a few). */
  settle: Answer[];
}

export interface SessionRecord {
  sessionId: string;
  vehicleId: string;
  idempotencyKey: string | null;
  startedAtMs: number;
  /** Ended, or (active) when it is expected to end, or the end of the run. */
  endAtMs: number;
}

export type Invariant =
  | "vehicle_two_active_sessions"
  | "key_two_sessions"
  | "ok_names_no_session"
  | "certain_refusal_made_session"
  | "uncertain_without_key"
  | "uncertain_unsettled"
  | "uncertain_settled_wrong"
  | "past_deadline";

export interface Violation {
  invariant: Invariant;
  detail: string;
}

export interface CheckCounts {
  requests: number;
  ok: number;
  refused: Record<string, number>;
  uncertain: number;
  hung: number;
  settledWithSession: number;
  settledNone: number;
  sessions: number;
  /** The latest any answer came after its deadline (negative: all before). */
  maxOvershootMs: number;
}

export interface CheckOptions {
  /** How late after its deadline an answer may come (the last hop's reply and scheduling on a busy host). */
  slackMs: number;
}

const MAX_EXAMPLES = 5;

// biome-ignore lint/complexity/noExcessiveCognitiveComplexity: one pass over the history per invariant, kept side by side so each rule reads as the issue states it (to split with the next change here)
export function checkHistory(
  requests: readonly RequestRecord[],
  sessions: readonly SessionRecord[],
  opts: CheckOptions,
): { violations: Violation[]; counts: CheckCounts } {
  const violations: Violation[] = [];
  const seen = new Map<Invariant, number>();
  const fail = (invariant: Invariant, detail: string) => {
    const n = (seen.get(invariant) ?? 0) + 1;
    seen.set(invariant, n);
    // Every violation counts; only the first few of each kind are spelled out.
    violations.push({ invariant, detail: n <= MAX_EXAMPLES ? detail : "" });
  };
  const byKey = groupBy(sessions, (s) => s.idempotencyKey ?? `(no key) ${s.sessionId}`);
  const byId = new Map(sessions.map((s) => [s.sessionId, s]));

  for (const [vehicleId, list] of groupBy(sessions, (s) => s.vehicleId)) {
    const sorted = [...list].sort((a, b) => a.startedAtMs - b.startedAtMs);
    for (let j = 1; j < sorted.length; j++) {
      const prev = sorted[j - 1] as SessionRecord;
      const next = sorted[j] as SessionRecord;
      if (next.startedAtMs < prev.endAtMs)
        fail(
          "vehicle_two_active_sessions",
          `${vehicleId}: ${prev.sessionId} until ${iso(prev.endAtMs)} and ${next.sessionId} from ${iso(next.startedAtMs)}`,
        );
    }
  }
  for (const [key, list] of byKey)
    if (list.length > 1) fail("key_two_sessions", `${key}: ${list.map((s) => s.sessionId).join(", ")}`);

  const counts: CheckCounts = {
    requests: requests.length,
    ok: 0,
    refused: {},
    uncertain: 0,
    hung: 0,
    settledWithSession: 0,
    settledNone: 0,
    sessions: sessions.length,
    maxOvershootMs: Number.NEGATIVE_INFINITY,
  };
  // A key sent twice at once (a double click) is one request asked twice: one certain refusal among its
  // answers is no lie if another answer with the key got (or may have got) the session.
  const mayHaveMade = new Set(requests.filter((r) => r.answer.kind !== "refused").map((r) => r.key));
  for (const r of requests) {
    const made = byKey.get(r.key) ?? [];
    const overshootMs = r.answeredAtMs - r.deadlineAtMs;
    counts.maxOvershootMs = Math.max(counts.maxOvershootMs, overshootMs);
    if (r.answer.kind === "hung" || overshootMs > opts.slackMs)
      fail("past_deadline", `#${r.i} ${r.key}: answered ${Math.round(overshootMs)} ms after its deadline`);
    const a = r.answer;
    if (a.kind === "ok") {
      counts.ok += 1;
      const s = byId.get(a.sessionId);
      if (!s || s.idempotencyKey !== r.key)
        fail(
          "ok_names_no_session",
          `#${r.i} ${r.key}: 200 with ${a.sessionId}, which no substation holds for it`,
        );
    } else if (a.kind === "refused") {
      counts.refused[a.reason] = (counts.refused[a.reason] ?? 0) + 1;
      if (made.length > 0 && !mayHaveMade.has(r.key))
        fail(
          "certain_refusal_made_session",
          `#${r.i} ${r.key}: refused ${a.reason}, yet ${made[0]?.sessionId}`,
        );
    } else {
      if (a.kind === "hung") counts.hung += 1;
      else counts.uncertain += 1;
      if (a.kind === "uncertain" && a.key !== r.key)
        fail("uncertain_without_key", `#${r.i} ${r.key}: uncertain ${a.reason} handed back key ${a.key}`);
      settle(r, made);
    }
  }

  function settle(r: RequestRecord, made: readonly SessionRecord[]): void {
    const last = r.settle.at(-1);
    if (
      !last ||
      last.kind === "uncertain" ||
      last.kind === "hung" ||
      (last.kind === "refused" && askAgain.has(last.reason))
    ) {
      const still = last?.kind === "refused" ? `refused ${last.reason}` : (last?.kind ?? "unretried");
      fail("uncertain_unsettled", `#${r.i} ${r.key}: still ${still} after ${r.settle.length} retries`);
    } else if (last.kind === "ok") {
      counts.settledWithSession += 1;
      if (made.length !== 1 || made[0]?.sessionId !== last.sessionId)
        fail(
          "uncertain_settled_wrong",
          `#${r.i} ${r.key}: retry got ${last.sessionId}; the key made ${made.length}`,
        );
    } else {
      counts.settledNone += 1;
      if (made.length > 0)
        fail(
          "uncertain_settled_wrong",
          `#${r.i} ${r.key}: retry refused ${last.reason} ("${last.message ?? ""}"), yet ${made[0]?.sessionId}`,
        );
    }
  }
  return { violations, counts };
}

/** Violations by invariant, for the summary. */
export function tally(violations: readonly Violation[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of violations) out[v.invariant] = (out[v.invariant] ?? 0) + 1;
  return out;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(11, 23);

import { type Answer, askAgain, type RequestRecord } from "./check.ts";
import type { Rng } from "./faults.ts";

/** The header the public API reads a caller's budget from (packages/kit deadline.ts). */
const BUDGET_HEADER = "x-evgrid-budget-ms";

export interface DriveOptions {
  apiUrl: string;
  seed: number;
  requests: number;
  /** The drive stops sending after this long, whatever is left of `requests`. */
  durationMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  vehicles: number;
  /** Each request's deadline, sent as its budget. */
  budgetMs: number;
  /** Past its deadline by this much, a request is cut off and recorded as hung. */
  hangGraceMs: number;
}

interface Body {
  vehicleId: string;
  idempotencyKey: string;
  maxKw: number;
  minKw: number;
  durationS: number;
}

/** One requestCharge over plain HTTP, as any client sends it, read in the terms of the guarantees. */
export async function send(
  apiUrl: string,
  body: Body,
  budgetMs: number,
  hangGraceMs: number,
): Promise<{ answer: Answer; sentAtMs: number; answeredAtMs: number; deadlineAtMs: number }> {
  const sentAtMs = Date.now();
  const deadlineAtMs = sentAtMs + budgetMs;
  let answer: Answer;
  try {
    const res = await fetch(`${apiUrl}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json", [BUDGET_HEADER]: String(budgetMs) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(budgetMs + hangGraceMs),
    });
    answer = read(await res.json());
  } catch (err) {
    const name = (err as Error).name;
    answer =
      name === "TimeoutError" || name === "AbortError"
        ? { kind: "hung" }
        : { kind: "uncertain", reason: `client: ${(err as Error).message}`, key: null };
  }
  return { answer, sentAtMs, answeredAtMs: Date.now(), deadlineAtMs };
}

function read(envelope: unknown): Answer {
  const e = envelope as {
    result?: { data?: { sessionId?: string; replayed?: boolean } };
    error?: {
      message?: string;
      data?: { reason?: string; details?: { uncertain?: unknown; idempotencyKey?: unknown } };
    };
  };
  const sessionId = e.result?.data?.sessionId;
  if (typeof sessionId === "string")
    return { kind: "ok", sessionId, replayed: e.result?.data?.replayed === true };
  const reason = e.error?.data?.reason ?? "UNREADABLE_ANSWER";
  const details = e.error?.data?.details;
  if (details?.uncertain === true || reason === "UNREADABLE_ANSWER") {
    const key = typeof details?.idempotencyKey === "string" ? details.idempotencyKey : null;
    return { kind: "uncertain", reason, key };
  }
  return { kind: "refused", reason, message: e.error?.message };
}

/**
 * Sends `requests` requests evenly over `durationMs` (fewer if it runs out), at most `concurrency` in flight,
 * from `vehicles` vehicles at random. Each has its own key (so a session names the request that made it); one
 * in ten is sent twice at once with the same key (a double click), which must make one session at most.
 */
export async function drive(opts: DriveOptions, rng: Rng): Promise<RequestRecord[]> {
  const records: RequestRecord[] = [];
  const startMs = Date.now();
  const intervalMs = opts.durationMs / opts.requests;
  const inFlight = new Set<Promise<void>>();
  const one = async (i: number, body: Body) => {
    const r = await send(opts.apiUrl, body, opts.budgetMs, opts.hangGraceMs);
    records.push({ i, key: body.idempotencyKey, vehicleId: body.vehicleId, ...r, settle: [] });
  };
  for (let i = 0; i < opts.requests; i++) {
    const dueMs = startMs + i * intervalMs - Date.now();
    if (dueMs > 0) await Bun.sleep(dueMs);
    if (Date.now() - startMs > opts.durationMs) break;
    while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
    const body: Body = {
      vehicleId: `ev-chaos-${rng.int(1, opts.vehicles)}`,
      idempotencyKey: `chaos-${opts.seed}-${i}`,
      maxKw: 11,
      minKw: 4.2,
      durationS: rng.int(1, 4),
    };
    const sent = rng.next() < 0.1 ? Promise.all([one(i, body), one(i, body)]).then(() => {}) : one(i, body);
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  }
  await Promise.all(inFlight);
  return records;
}

/**
 * Settles every uncertain or hung request by retrying with its key until an answer is certain (at most
 * `tries`, `pauseMs` apart): the session it made, or a certain refusal.
 */
export async function settle(
  apiUrl: string,
  records: RequestRecord[],
  tries: number,
  pauseMs: number,
): Promise<void> {
  const open = records.filter((r) => r.answer.kind === "uncertain" || r.answer.kind === "hung");
  await Promise.all(
    open.map(async (r) => {
      const body: Body = {
        vehicleId: r.vehicleId,
        idempotencyKey: r.key,
        maxKw: 11,
        minKw: 4.2,
        durationS: 1,
      };
      for (let t = 0; t < tries; t++) {
        const { answer } = await send(apiUrl, body, 5000, 5000);
        r.settle.push(answer);
        if (answer.kind === "ok" || (answer.kind === "refused" && !askAgain.has(answer.reason))) return;
        await Bun.sleep(pauseMs);
      }
    }),
  );
}

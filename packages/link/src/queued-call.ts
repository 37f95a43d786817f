import type { LinkCallOptions } from "./client-types.ts";

/**
 * A call waiting on a link for the end of its turn of the event loop. Its budget (`budgetMs`, what is left
 * of its deadline) is written when it leaves, not when it was made: a sender that stalls in between (a
 * collector pause, a frozen VM) sends what is left then, and a call whose deadline passed meanwhile does not
 * leave at all, so the peer never runs it late.
 */
export class QueuedCall {
  /** `gone`: never to leave (its deadline passed first); its caller was told so. */
  state: "queued" | "sent" | "gone" = "queued";

  constructor(
    readonly id: number,
    readonly path: string,
    /** Epoch ms on this host's clock. */
    readonly deadline: number,
    /** The message's JSON without its opening brace: `{"budgetMs":N,` goes before it as it leaves. */
    readonly rest: string,
  ) {}
}

/** The most `{"budgetMs":N,` adds to a message (N up to 16 digits and a fraction). */
export const BUDGET_BYTES = 40;

/** Serializes a call's message (everything but its budget) once, as it is made: a bad input fails there. */
export function queuedCall(
  id: number,
  method: "query" | "mutation",
  path: string,
  input: unknown,
  deadline: number,
  opts: Pick<LinkCallOptions, "site" | "traceparent" | "tracestate">,
): QueuedCall {
  const params = { path, input };
  const message = opts.traceparent
    ? { id, method, params, site: opts.site, traceparent: opts.traceparent, tracestate: opts.tracestate }
    : { id, method, params, site: opts.site };
  return new QueuedCall(id, path, deadline, JSON.stringify(message).slice(1));
}

/**
 * The messages that leave now, in order, each queued call with what is left of its budget; a call whose
 * deadline has passed is left out and handed to `late` (certainly not run: it was never sent).
 */
export function leaving(
  messages: readonly (string | QueuedCall)[],
  nowMs: number,
  late: (call: QueuedCall) => void,
): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (typeof m === "string") {
      out.push(m);
      continue;
    }
    if (m.state !== "queued") continue;
    const budgetMs = m.deadline - nowMs;
    if (budgetMs > 0) {
      m.state = "sent";
      out.push(`{"budgetMs":${budgetMs},${m.rest}`);
    } else {
      m.state = "gone";
      late(m);
    }
  }
  return out;
}

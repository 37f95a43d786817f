/**
 * Deadlines travel with every call, as what is left of them: a call carries its remaining budget in ms (the
 * `x-evgrid-budget-ms` header over HTTP, `budgetMs` beside `params` on a link) and the receiver turns it into
 * an absolute deadline on its own clock at receipt. Clocks of different hosts need not agree; the budget
 * only shrinks by the time in transit, which errs on the late side, so a receiver that refuses work past its
 * deadline refuses work its caller surely gave up on (or is about to: the caller's answer is then uncertain).
 */
export const BUDGET_HEADER = "x-evgrid-budget-ms";

/**
 * The abort reason of a call let go because its deadline passed (not because its caller hung up): a call that
 * was waiting can then answer DEADLINE_EXCEEDED, which its caller may still read, instead of "caller gone".
 */
export class DeadlinePassed extends Error {
  override readonly name = "DeadlinePassed";
  constructor() {
    super("the call's deadline passed");
  }
}

/** Budgets above this (a day) are read as this: nothing in the grid waits longer. */
const MAX_BUDGET_MS = 86_400_000;

/** The absolute deadline (epoch ms, this host's clock) a received budget means; null when none came. */
export function deadlineFromBudget(raw: unknown, nowMs: number = Date.now()): number | null {
  const budgetMs = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (typeof budgetMs !== "number" || !Number.isFinite(budgetMs)) return null;
  return nowMs + Math.min(MAX_BUDGET_MS, Math.max(0, Math.floor(budgetMs)));
}

/** The earlier of two deadlines (null: none). */
export function earliest(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  return Math.min(a, b);
}

/** True once `deadlineAtMs` has passed (never, without one). */
export function isPast(deadlineAtMs: number | null | undefined, nowMs: number = Date.now()): boolean {
  return deadlineAtMs !== null && deadlineAtMs !== undefined && nowMs >= deadlineAtMs;
}

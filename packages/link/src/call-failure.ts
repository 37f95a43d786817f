import { errorDataOf } from "@evgrid/contract";

/**
 * How a call failed, from the caller's point of view:
 * - `answered`: the server replied with a typed error (it decided; nothing half-done);
 * - `unreachable`: no connection was made, so the server certainly did nothing;
 * - `uncertain`: timeout or broken connection; the server may or may not have acted.
 *
 * A leaf: it reads an error and imports nothing of the link, so error relays (kit's errors.ts) can use it
 * without pulling the client in.
 */
export type CallFailure = "answered" | "unreachable" | "uncertain";

export function classifyCallFailure(err: unknown): CallFailure {
  if (errorDataOf(err)) return "answered";
  const cause = err instanceof Error ? (err.cause ?? err) : err;
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused" || code === "ENOTFOUND") return "unreachable";
  return "uncertain";
}

/** A failure in a few words for a log line: "timed out", or the transport's own message. */
export function describeFailure(err: unknown): string {
  const cause = err instanceof Error ? (err.cause ?? err) : err;
  if (cause instanceof Error) return cause.name === "TimeoutError" ? "timed out" : cause.message;
  return String(cause);
}

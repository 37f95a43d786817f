import { reasons } from "@evgrid/contract";
import { TRPCClientError } from "@trpc/client";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";

/*
 * How a call on a link fails says what the peer may have done (classifyCallFailure reads it):
 * - the link could not be opened: `ConnectionRefused`, unreachable, it certainly did nothing;
 * - the link dropped while the call was out: `ConnectionClosed`, uncertain, at once (no waiting for the
 *   deadline);
 * - no answer by its deadline: a `TimeoutError`, uncertain;
 * - the caller gave up: an `AbortError`;
 * - the call alone is over the peer's frame limit: `PAYLOAD_TOO_LARGE`, answered here, certainly not run.
 * - its deadline passed before it was sent: `DEADLINE_EXCEEDED`, answered here, certainly not run.
 */

const transportError = (cause: Error): TRPCClientError<never> => TRPCClientError.from(cause);

export function refused(why: string): TRPCClientError<never> {
  return transportError(Object.assign(new Error(why || "link refused"), { code: "ConnectionRefused" }));
}

/**
 * A call that named a site the peer's process does not host (link-sites.ts): refused there, so certainly
 * not run (unreachable, as a refused link); internalClient then calls the site on its own link.
 */
export function notHosted(answer: unknown): TRPCClientError<never> {
  const why = (answer as { message?: unknown } | null)?.message;
  const error = new Error(typeof why === "string" ? why : "site not hosted by that link's process");
  return transportError(Object.assign(error, { code: "ConnectionRefused", siteMissing: true }));
}

/** Whether a call failed as notHosted. */
export const isNotHosted = (err: unknown): boolean =>
  err instanceof TRPCClientError &&
  (err.cause as { siteMissing?: unknown } | undefined)?.siteMissing === true;

export function dropped(why: string): TRPCClientError<never> {
  return transportError(Object.assign(new Error(why), { code: "ConnectionClosed" }));
}

export function timedOut(): TRPCClientError<never> {
  return transportError(new DOMException("timed out", "TimeoutError"));
}

export function aborted(): TRPCClientError<never> {
  return transportError(new DOMException("the caller gave up", "AbortError"));
}

/** As the peer answers an oversized HTTP body: typed, with the grid's reason. */
export function tooLarge(message: string, path: string): TRPCClientError<never> {
  const code = "PAYLOAD_TOO_LARGE";
  const data = { code, httpStatus: 413, path, reason: reasons.PAYLOAD_TOO_LARGE };
  return TRPCClientError.from({ error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data } } as never);
}

/**
 * A call whose deadline passed before it was sent fails here, unsent, as if the peer had refused it with
 * DEADLINE_EXCEEDED: certainly not run, so "answered", never "uncertain".
 */
export function lateCall(path: string): TRPCClientError<never> {
  const code = "SERVICE_UNAVAILABLE";
  const message = `the deadline passed before ${path} was sent`;
  const data = { code, httpStatus: 503, path, reason: reasons.DEADLINE_EXCEEDED };
  return TRPCClientError.from({ error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data } } as never);
}

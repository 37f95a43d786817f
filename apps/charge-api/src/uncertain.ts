import { errorDataOf, isUncertain, reasons } from "@evgrid/contract";
import { classifyCallFailure, GridError, relayUpstreamError } from "@evgrid/kit";

/**
 * A failed dispatch as the public caller gets it. A certain refusal (the balancer decided, nothing was
 * started) is relayed as it came. Anything that cannot say whether a session started (the balancer or a
 * substation did not answer in time, a link dropped, an internal error midway) is marked `uncertain: true`
 * with the request's idempotency key (the caller's, or the one made for it): a retry with that key settles it.
 */
export function relayDispatchError(err: unknown, idempotencyKey: string): never {
  const relayed = relayUpstreamError(err, "balancer");
  if (!mayHaveStarted(err)) throw relayed;
  // In the message too, for callers that read only text (POST /request_charge).
  const message = `${relayed.message}; it may have started: retry with idempotencyKey ${idempotencyKey} to know`;
  throw new GridError(relayed.code, relayed.reason, message, {
    ...relayed.details,
    uncertain: true,
    idempotencyKey,
  });
}

function mayHaveStarted(err: unknown): boolean {
  const failure = classifyCallFailure(err);
  if (failure === "unreachable") return false;
  if (failure === "uncertain") return true;
  const data = errorDataOf(err);
  // SUBSTATION_TIMEOUT and INTERNAL are uncertain whoever sent them (an older balancer marks neither).
  return (
    isUncertain(data) || data?.reason === reasons.SUBSTATION_TIMEOUT || data?.reason === reasons.INTERNAL
  );
}

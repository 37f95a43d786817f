import { createHash } from "node:crypto";

const MOVED_LABEL = "evgrid moved session v1:";

/**
 * The id of the session a booking goes on in at another substation (a booking claimed at a charger there):
 * `<substationId>.<32 hex of a SHA-256 of the booking's id>`. Derived, not drawn, so its owner is found from
 * the booking's id alone (the balancer asks each substation for its one candidate) and nothing links the two
 * in any journal. Not a secret: an id opens nothing without its owner's key or its session secret. A session
 * moved on again derives its next id from its own, so every step of a chain has an id of its own.
 */
export function movedSessionId(substationId: string, fromSessionId: string): string {
  const hex = createHash("sha256")
    .update(MOVED_LABEL + fromSessionId)
    .digest("hex")
    .slice(0, 32);
  return `${substationId}.${hex}`;
}

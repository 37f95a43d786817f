import { type DispatchRequest, reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import type { GridView } from "./view.ts";

/**
 * Where a request goes while the shared store cannot vouch for it (down, timing out, or forgotten and not
 * rebuilt yet). The substations are the truth: a vehicle or key one of them holds goes there and nowhere
 * else; one none holds goes to its vehicle's deterministic home, the same for every replica, so two
 * replicas in this mode always pick the same substation, whose own one-session-per-vehicle and
 * idempotency refuse the second. Never the least loaded: that is what differs between replicas.
 */

/**
 * The substation holding this request's key (a session it started, active or ended while the key is
 * honoured) or its vehicle's active session: undefined if none does, null if one did not answer (then
 * nobody can vouch for the request).
 */
export async function locateRequest(
  view: GridView,
  req: DispatchRequest,
): Promise<string | undefined | null> {
  try {
    const key = req.idempotencyKey;
    const [byKey, byVehicle] = await Promise.all([
      key === undefined
        ? []
        : Promise.all(
            view.members.map((m) => m.client.findKeySession.query({ owner: req.owner, idempotencyKey: key })),
          ),
      Promise.all(view.members.map((m) => m.client.findSession.query({ vehicleId: req.vehicleId }))),
    ]);
    // The key's substation first: it replays the key's session, or refuses the key for another vehicle.
    return (byKey.find((s) => s !== null) ?? byVehicle.find((s) => s !== null))?.substationId;
  } catch {
    return null;
  }
}

/**
 * The vehicle's home by rendezvous hashing over every substation of the grid (not only the healthy or the
 * least loaded: every replica must compute the same one); undefined while a substation's id is not known.
 */
export function hashHome(vehicleId: string, view: GridView): string | undefined {
  const ids = view.members.map((m) => m.id);
  if (ids.length === 0 || ids.some((id) => id === null)) return undefined;
  let best: { id: string; score: bigint } | undefined;
  for (const id of ids as string[]) {
    const score = BigInt(Bun.hash.wyhash(`${id}\u0000${vehicleId}`, 0n));
    if (!best || score > best.score || (score === best.score && id < best.id)) best = { id, score };
  }
  return best?.id;
}

/** The store cannot vouch for this request and the substations did not say where it is: refused, nothing started. */
export function cannotVouch(retryAfterMs: number, why: string): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.STATE_REBUILDING,
    `${why}; nothing was started, retry shortly`,
    { retryAfterS: Math.max(1, Math.ceil(retryAfterMs / 1000)) },
  );
}

/**
 * Where a request goes while the store cannot vouch for it (`sinceMs`: since this replica lost it, found it
 * forgotten, or started): where the substations hold its key or vehicle; else, once a lease has passed since
 * (every dispatch another replica claimed before has landed or been refused as late), its vehicle's home by
 * hash (a vehicle at a charger: that charger's substation). Meanwhile, and when a substation does not
 * answer, a certain refusal.
 */
export async function degradedHome(
  view: GridView,
  req: DispatchRequest,
  opts: { sinceMs: number; leaseMs: number; nowMs: number },
): Promise<string> {
  const found = await locateRequest(view, req);
  if (found === null)
    throw cannotVouch(
      opts.leaseMs,
      "the shared state store cannot vouch for this vehicle, and not every substation answered",
    );
  if (found !== undefined) return found;
  const waitMs = opts.sinceMs + opts.leaseMs - opts.nowMs;
  if (waitMs > 0)
    throw cannotVouch(
      waitMs,
      "the shared state store cannot vouch for this vehicle yet; dispatches claimed before may still land",
    );
  const home = req.substationId ?? hashHome(req.vehicleId, view);
  if (home === undefined)
    throw cannotVouch(
      opts.leaseMs,
      "the shared state store cannot vouch for this vehicle, and a substation is unknown",
    );
  return home;
}

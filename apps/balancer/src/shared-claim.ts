/**
 * One request's claims in the shared store (redis-store.ts): its idempotency key, then its vehicle, each
 * under the store's epoch, and what finishing them writes (where the session went, for how long).
 */
import type { DispatchRequest } from "@evgrid/contract";
import { storeKeys } from "./rebuild.ts";
import { type Claimer, claimKey, claimOnce, finishPlaces, vehicleBusy } from "./redis-claim.ts";
import type { RedisLink } from "./redis-link.ts";
import { FINISH, TRYING, UNCLAIM } from "./redis-scripts.ts";
import type { RedisStoreOptions } from "./store-connection.ts";
import type { Claim } from "./types.ts";

/** What a claim needs of the replica's store. */
export interface SharedClaimContext {
  claimer: Claimer;
  link: RedisLink;
  opts: RedisStoreOptions;
  now: () => number;
  /** Since when absent claims prove nothing (not rebuilt, or the store may evict); null while trusted. */
  distrustedSince(): number | null;
  markDown(err: unknown): void;
}

/** Claims key then vehicle; null if the store's epoch is not `epoch`. */
export async function claimShared(
  ctx: SharedClaimContext,
  req: DispatchRequest,
  deadlineMs: number,
  epoch: string,
): Promise<Claim | null> {
  const { link, opts } = ctx;
  const token = crypto.randomUUID();
  const keyName = req.idempotencyKey === undefined ? undefined : storeKeys.key(req.owner, req.idempotencyKey);
  const vehicleName = storeKeys.vehicle(req.vehicleId);
  // Released: a key or vehicle taken over with a place (a dead replica's try, an old home) keeps it. A
  // stale one (taken over with no place: where its session is, only the substations know) is handed back
  // stale when this request started nothing (UNCLAIM).
  const release = (name: string, at = "") =>
    link.run(FINISH, [name], [token, at, String(opts.keyTtlMs), "1"]).catch(() => {});
  const unclaim = (name: string) => link.run(UNCLAIM, [name], [token]);
  let home: string | undefined;
  let keyAt = "";
  let keyHeld = false;
  let vehicleHeld = false;
  let keyStale = false;
  let vehicleStale = false;
  const releaseKey = () =>
    !keyHeld
      ? null
      : keyStale
        ? unclaim(keyName as string).catch(() => {})
        : release(keyName as string, keyAt);
  const releaseVehicle = () =>
    !vehicleHeld ? null : vehicleStale ? unclaim(vehicleName).catch(() => {}) : release(vehicleName);
  if (keyName !== undefined) {
    const k = await claimKey(ctx.claimer, keyName, token, epoch, deadlineMs);
    if (k.state === "epoch") return null;
    keyHeld = k.state === "claimed" || k.state === "stale";
    keyStale = k.state === "stale";
    keyAt = k.at;
    home = k.at || undefined;
  }
  // Any request may start a session away from the vehicle's last home (even a done key's retry, if its try
  // never reached its substation): the vehicle is claimed, even when done, so its home moves with it. A done
  // key's retry goes on without it if another request holds it: its session is where the key says.
  const v = await claimOnce(ctx.claimer, vehicleName, token, epoch, true);
  if (v.state === "epoch") {
    await releaseKey();
    return null;
  }
  if (v.state === "claimed" || v.state === "stale") {
    vehicleHeld = true;
    vehicleStale = v.state === "stale";
    home ??= v.at || undefined;
  } else if (keyHeld || keyName === undefined) {
    await releaseKey();
    // A stale key may have started a session: uncertain, as one tried somewhere is.
    throw vehicleBusy(req.vehicleId, keyHeld && (keyAt !== "" || keyStale));
  }
  // Not rebuilt yet, a claim proves nothing (absent, or stale: the vehicle may have charged elsewhere while
  // the store was silent): where the substations say, or the hashed home (a lease after it was distrusted:
  // claims made before have landed), and nowhere else; so for a stale claim (its lease ran out: landed or
  // refused). The claims still serialize the replicas.
  const distrusted = ctx.distrustedSince();
  const pinned = distrusted !== null || keyStale || vehicleStale;
  if (pinned) {
    const sinceMs = distrusted ?? 0;
    home = await opts.degradedHome(req, sinceMs).catch(async (err: unknown) => {
      await Promise.all([releaseKey(), releaseVehicle()]);
      throw err;
    });
  }
  const both = (run: (name: string, stale: boolean) => Promise<unknown>) =>
    Promise.all([
      keyHeld ? run(keyName as string, keyStale) : null,
      vehicleHeld ? run(vehicleName, vehicleStale) : null,
    ]).catch((err) => ctx.markDown(err));
  return {
    home,
    pinned,
    trying: (substationId) => both((name) => link.run(TRYING, [name], [token, substationId])).then(() => {}),
    finish: async (outcome) => {
      if (outcome.kind === "admitted")
        opts.fallback.remember(req, outcome.session, outcome.replayed === false);
      const { keyAt: at, vehicleAt, vehicleMs, keepHome } = finishPlaces(outcome, ctx.now(), opts);
      await both((name, stale) =>
        stale && outcome.kind === "none"
          ? unclaim(name) // nothing started: still stale for the next request
          : link.run(
              FINISH,
              [name],
              name === vehicleName
                ? [token, vehicleAt, String(Math.round(vehicleMs)), keepHome ? "1" : "0"]
                : [token, at, String(opts.keyTtlMs), "0"],
            ),
      );
    },
  };
}

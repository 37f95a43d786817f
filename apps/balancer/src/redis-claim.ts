import { reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { storeKeys, vehicleHomeMs } from "./rebuild.ts";
import type { RedisLink } from "./redis-link.ts";
import { CLAIM } from "./redis-scripts.ts";
import type { ClaimOutcome } from "./types.ts";

/** What claiming needs of the store. */
export interface Claimer {
  link: RedisLink;
  leaseMs: number;
  keyTtlMs: number;
  onBadValue?: (() => void) | undefined;
  now: () => number;
}

/** CLAIM's answer (redis-scripts.ts). */
export interface Answer {
  state: string;
  at: string;
  msLeft: number;
}

/** Claims a key, waiting (woken when its claim finishes, at most its lease) while another replica holds it. */
export async function claimKey(
  c: Claimer,
  name: string,
  token: string,
  epoch: string,
  deadlineMs: number,
): Promise<Answer> {
  let answer = await claimOnce(c, name, token, epoch);
  if (answer.state !== "busy") return answer;
  let woke = false;
  let wake: (() => void) | undefined;
  const stop = await c.link.listen(`evgrid:done:${name}`, () => {
    woke = true;
    wake?.();
  });
  try {
    for (;;) {
      woke = false;
      answer = await claimOnce(c, name, token, epoch);
      if (answer.state !== "busy") return answer;
      const waitMs = Math.min(answer.msLeft + 1, deadlineMs - c.now());
      if (waitMs <= 0) throw keyStillDispatching();
      if (woke) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    stop();
  }
}

/** `takeDone`: a vehicle's claim (a done one is taken too: it may start elsewhere now); a key's: no. */
export async function claimOnce(
  c: Claimer,
  name: string,
  token: string,
  epoch: string,
  takeDone = false,
): Promise<Answer> {
  const args = [token, String(c.leaseMs), String(c.keyTtlMs), epoch, takeDone ? "1" : "0"];
  const [state, at, bad, msLeft] = (await c.link.run(CLAIM, [name, storeKeys.epoch], args)) as [
    string,
    string,
    number,
    number,
  ];
  if (bad) c.onBadValue?.();
  return { state, at, msLeft: Number(msLeft) };
}

/**
 * What a finished dispatch writes (FINISH): the key, where its session is or may be; the vehicle, where its
 * active session is, for that session's time. A session replayed that has ended, or nothing started:
 * the vehicle's claim is released (an old home it took over is given back). `keepHome`: the vehicle's old
 * home, if it is that substation, is given back as it was (it charges there already, or nothing was asked
 * there), never held for a day where it may not charge at all.
 */
export function finishPlaces(
  outcome: ClaimOutcome,
  nowMs: number,
  ttl: { keyTtlMs: number; vehicleGraceMs: number },
): { keyAt: string; vehicleAt: string; vehicleMs: number; keepHome: boolean } {
  switch (outcome.kind) {
    case "admitted": {
      const { session } = outcome;
      const active = session.status === "active";
      return {
        keyAt: session.substationId,
        vehicleAt: active ? session.substationId : "",
        vehicleMs: vehicleHomeMs(session, nowMs, ttl, outcome.replayed === false),
        keepHome: false,
      };
    }
    case "uncertain":
      return {
        keyAt: outcome.at,
        vehicleAt: outcome.at,
        vehicleMs: ttl.keyTtlMs,
        keepHome: outcome.charging === true || outcome.asked === false,
      };
    case "none":
      return { keyAt: "", vehicleAt: "", vehicleMs: ttl.keyTtlMs, keepHome: false };
  }
}

/** A dispatch of this key may still start its session (or has): not a certain "none". */
export const keyStillDispatching = () =>
  new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.DEADLINE_EXCEEDED,
    "a request with this idempotency key is still being dispatched; retry with the same key",
    { uncertain: true },
  );

/**
 * Another replica is starting this vehicle now: certain for a request whose key was never tried (nothing was
 * started for it), not for one whose key was tried somewhere (`keyTried`: by a replica that died, say), whose
 * session may exist (found by `bun run chaos`, kill_replica).
 */
export const vehicleBusy = (vehicleId: string, keyTried = false) =>
  keyTried
    ? keyStillDispatching()
    : new GridError(
        "CONFLICT",
        reasons.VEHICLE_ALREADY_CHARGING,
        `vehicle ${vehicleId} is being started through another balancer; a retry with the key that started it gets it back`,
      );

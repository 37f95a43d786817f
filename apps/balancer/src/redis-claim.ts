import { reasons } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import { storeKeys } from "./rebuild.ts";
import type { RedisLink } from "./redis-link.ts";
import { CLAIM } from "./redis-scripts.ts";

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
      if (waitMs <= 0) {
        throw new GridError(
          "SERVICE_UNAVAILABLE",
          reasons.DEADLINE_EXCEEDED,
          "a request with this idempotency key is still being dispatched; retry with the same key",
          // That dispatch may still start the key's session: not a certain "none".
          { uncertain: true },
        );
      }
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

import { reasons, type Session } from "@evgrid/contract";
import { GridError } from "@evgrid/kit";
import type { RedisLink } from "./redis-link.ts";
import { REBUILD_HOME } from "./redis-scripts.ts";
import type { GridView } from "./view.ts";

/** Names of what the replicas share in the store. */
export const storeKeys = {
  epoch: "evgrid:epoch",
  /** The server's run id when the epoch was last kept (INFO run_id): another one, it restarted. */
  run: "evgrid:run",
  /** The epoch the state was last rebuilt under: a replica that starts trusts a store only with it. */
  rebuilt: "evgrid:rebuilt",
  key: (owner: string, idempotencyKey: string) => `evgrid:key:${owner}\u0000${idempotencyKey}`,
  vehicle: (vehicleId: string) => `evgrid:vehicle:${vehicleId}`,
  wait: "evgrid:wait",
  waitSeq: "evgrid:wait:seq",
};

/** A claim done at `at`, to write (if nothing newer is there) for `ttlMs`. */
export interface Home {
  name: string;
  value: string;
  ttlMs: number;
}

/** The most sessions asked of one substation; past it, its oldest ended ones (and their keys) are not seen. */
const LIST_LIMIT = 10_000;

/**
 * Every session of every substation in the view (they are the truth: each names its vehicle, owner and
 * idempotency key), or null if one did not answer: what it holds cannot be vouched for yet.
 */
export async function sessionsOfGrid(view: GridView): Promise<Session[] | null> {
  try {
    const lists = await Promise.all(
      view.members.map((m) => m.client.listSessions.query({ status: "all", limit: LIST_LIMIT })),
    );
    return lists.flatMap((l) => l.sessions);
  } catch {
    return null;
  }
}

/**
 * How long a vehicle stays homed at its session's substation: the grace past the session's expected end (that
 * substation ends it when its timer fires, late if its event loop stalls, and refuses the vehicle until then;
 * asked anywhere else meanwhile, it would get a second session), or the key TTL for one with no expected end;
 * an energy session's, until the latest it can end (below).
 * `fresh` (this dispatch started it, just now): from its start to its expected end, both on the substation's
 * clock, so a balancer whose clock runs ahead does not let the home go while the session runs (a store-fault
 * probe: 2 minutes ahead, a second session). A replayed or rebuilt one, which may have started hours ago, is
 * reckoned from this balancer's now: its clock must agree with the substations' within the grace.
 */
export function vehicleHomeMs(
  s: Session,
  nowMs: number,
  ttl: { keyTtlMs: number; vehicleGraceMs: number },
  fresh = false,
): number {
  const endMs = s.status === "active" && s.expectedEndAt ? Date.parse(s.expectedEndAt) : Number.NaN;
  if (!Number.isFinite(endMs)) return ttl.keyTtlMs;
  const startedMs = Date.parse(s.startedAt);
  const fromMs = fresh && Number.isFinite(startedMs) ? startedMs : nowMs;
  if (s.durationS !== null) return Math.max(1, endMs - fromMs) + ttl.vehicleGraceMs;
  // An energy session's expected end is a projection at its power now: a smaller share later (more cars at
  // its substation) moves it later, past a home written from it (then a second session elsewhere). Homed
  // until the latest it can end: its energy at its minimum power (what admission keeps for it), or its
  // departure if sooner (it ends there). That extension is capped at the key's TTL; the projection is not.
  const projectedMs = Math.max(1, endMs - fromMs) + ttl.vehicleGraceMs;
  const remainingKwh = Math.max(0, (s.energyKwh ?? 0) - s.deliveredKwh);
  const atMinimumMs = s.minKw > 0 ? fromMs + (remainingKwh / s.minKw) * 3_600_000 : Number.POSITIVE_INFINITY;
  const departMs = s.departAt ? Date.parse(s.departAt) : Number.NaN;
  const latestMs = Number.isFinite(departMs) ? Math.min(departMs, atMinimumMs) : atMinimumMs;
  return Math.max(projectedMs, Math.min(ttl.keyTtlMs, latestMs - fromMs + ttl.vehicleGraceMs));
}

/**
 * The claims the sessions imply: each active session's vehicle until the session is expected to end (and
 * `vehicleGraceMs`: its substation may end it late), and each key that made a session for the rest of its TTL.
 */
export function homesOf(
  sessions: readonly Session[],
  ttl: { keyTtlMs: number; vehicleGraceMs: number },
  nowMs: number,
  /** When the sessions were read, on the store's clock: the homes are written as of then. */
  listedAtMs?: number,
): Home[] {
  const { keyTtlMs } = ttl;
  const homes: Home[] = [];
  const done = (at: string) =>
    JSON.stringify({ s: "d", at, ...(listedAtMs === undefined ? {} : { w: listedAtMs }) });
  for (const s of sessions) {
    if (s.idempotencyKey !== null) {
      const ttlMs = Date.parse(s.startedAt) + keyTtlMs - nowMs;
      if (ttlMs > 0)
        homes.push({ name: storeKeys.key(s.owner, s.idempotencyKey), value: done(s.substationId), ttlMs });
    }
    if (s.status === "active") {
      const ttlMs = Math.max(1000, vehicleHomeMs(s, nowMs, ttl));
      homes.push({ name: storeKeys.vehicle(s.vehicleId), value: done(s.substationId), ttlMs });
    }
  }
  return homes;
}

/**
 * Writes every home the sessions imply (never over a newer claim: REBUILD_HOME), then marks the store rebuilt under
 * `epoch`, for replicas that start later.
 */
export async function writeHomes(
  link: RedisLink,
  sessions: readonly Session[],
  epoch: string,
  ttl: { keyTtlMs: number; leaseMs: number; vehicleGraceMs: number },
  nowMs: number,
  /** When the sessions were read, on the store's clock (storeNowMs): older done claims are overwritten. */
  listedAtMs: number,
): Promise<void> {
  const homes = homesOf(sessions, ttl, nowMs, listedAtMs);
  const at = String(listedAtMs);
  await Promise.all(
    homes.map((h) => link.run(REBUILD_HOME, [h.name], [h.value, String(Math.round(h.ttlMs)), at])),
  );
  await link.send("SET", [storeKeys.rebuilt, epoch, "PX", String(ttl.keyTtlMs + ttl.leaseMs)]);
}

/** A claim's substation if it is done; garbage is absent (and counted). */
export function parseHome(raw: unknown, onBadValue?: () => void): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  try {
    const c = JSON.parse(String(raw)) as { s?: unknown; at?: unknown };
    if (c.s === "p") return undefined;
    if (c.s === "d" && typeof c.at === "string") return c.at;
  } catch {}
  onBadValue?.();
  return undefined;
}

/** A request the replica cannot vouch for while it rebuilds the store: refused, nothing started. */
export function rebuilding(leaseMs: number): GridError {
  return new GridError(
    "SERVICE_UNAVAILABLE",
    reasons.STATE_REBUILDING,
    "the balancers' shared state was lost and is being rebuilt from the substations; nothing was started, retry shortly",
    { retryAfterS: Math.max(1, Math.ceil(leaseMs / 1000)) },
  );
}

/** The store's clock (TIME), in ms: what its scripts compare claims' times on. */
export async function storeNowMs(link: RedisLink): Promise<number> {
  const [seconds, micros] = (await link.send("TIME", [])) as [string, string];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

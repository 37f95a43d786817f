/**
 * Failed charger logins, counted three ways, each with a short exponential lockout:
 *
 * - per charge point id + address: after `pairFailures` failures the pair is locked for `lockoutMs`,
 *   doubled per further failure up to `lockoutMaxMs`;
 * - per address (any id): after `addressFailures` the address is locked the same way, except for ids that
 *   logged in from it before (known-good pairs), so a guesser behind a shared NAT does not lock them out;
 * - per id (any address): after `idFailures` the id is locked, but only for addresses that have themselves
 *   failed for it and are not known good. A real charger that has the right password never fails, so an
 *   attacker guessing its id from elsewhere cannot lock it out at all; a guesser at its very address can
 *   delay it by at most `lockoutMaxMs` after its last guess.
 *
 * A success clears its pair and makes it known good. Counts are forgotten `lockoutMaxMs` after their last
 * failure; every table is bounded (oldest entries go first), so a flood of invented ids costs bounded memory.
 */
import { MapFront } from "@evgrid/kit";

export interface LoginLimits {
  pairFailures: number;
  addressFailures: number;
  idFailures: number;
  lockoutMs: number;
  lockoutMaxMs: number;
  /** Entries per table at most. */
  maxTracked: number;
}

interface Strike {
  failures: number;
  lockedUntilMs: number;
  lastFailureMs: number;
}

/** Failure counts by key with a lockout after `free` failures (see above). */
class Strikes {
  private readonly entries = new Map<string, Strike>();
  /** The entry failed longest ago (`entries.keys().next()` grows dear under a flood: kit's MapFront). */
  private readonly oldest: MapFront<string>;

  constructor(
    private readonly free: number,
    private readonly limits: LoginLimits,
  ) {
    this.oldest = new MapFront(this.entries, limits.maxTracked);
  }

  private live(key: string, nowMs: number): Strike | undefined {
    const s = this.entries.get(key);
    if (s && s.lockedUntilMs <= nowMs && nowMs - s.lastFailureMs > this.limits.lockoutMaxMs) {
      this.entries.delete(key);
      return undefined;
    }
    return s;
  }

  failures(key: string, nowMs: number): number {
    return this.live(key, nowMs)?.failures ?? 0;
  }

  lockedForMs(key: string, nowMs: number): number {
    return Math.max(0, (this.live(key, nowMs)?.lockedUntilMs ?? 0) - nowMs);
  }

  /** Counts a failure; returns the lockout it starts (0: none yet). */
  fail(key: string, nowMs: number): number {
    const s = this.live(key, nowMs) ?? { failures: 0, lockedUntilMs: 0, lastFailureMs: nowMs };
    s.failures += 1;
    s.lastFailureMs = nowMs;
    let lockMs = 0;
    if (s.failures > this.free) {
      const doublings = Math.min(s.failures - this.free - 1, 30);
      lockMs = Math.min(this.limits.lockoutMs * 2 ** doublings, this.limits.lockoutMaxMs);
      s.lockedUntilMs = nowMs + lockMs;
    }
    // Re-inserted so the map's order is by last failure: the oldest go first when it is full.
    this.entries.delete(key);
    this.entries.set(key, s);
    const oldest = this.oldest.over();
    if (oldest !== undefined) this.entries.delete(oldest);
    return lockMs;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Addresses remembered per charge point id as known good (the latest few it logged in from). */
const KNOWN_GOOD_PER_ID = 4;

export class LoginLimiter {
  private readonly pairs: Strikes;
  private readonly addresses: Strikes;
  private readonly ids: Strikes;
  private readonly knownGood = new Map<string, string[]>();

  constructor(
    limits: LoginLimits,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.pairs = new Strikes(limits.pairFailures, limits);
    this.addresses = new Strikes(limits.addressFailures, limits);
    this.ids = new Strikes(limits.idFailures, limits);
  }

  /** How long this id may not try from this address (0: it may try now). */
  lockedForMs(id: string, address: string): number {
    const now = this.nowMs();
    const pair = pairKey(id, address);
    const pairLock = this.pairs.lockedForMs(pair, now);
    if (pairLock > 0 || this.knownGood.get(id)?.includes(address)) return pairLock;
    const addressLock = this.addresses.lockedForMs(address, now);
    const idLock = this.pairs.failures(pair, now) > 0 ? this.ids.lockedForMs(id, now) : 0;
    return Math.max(addressLock, idLock);
  }

  /** No failed login from this address lately (its logins go first in the verification queue). */
  isClean(address: string): boolean {
    return this.addresses.failures(address, this.nowMs()) === 0;
  }

  /** Counts a failed login; returns the longest lockout it started (0: none). */
  failed(id: string, address: string): number {
    const now = this.nowMs();
    return Math.max(
      this.pairs.fail(pairKey(id, address), now),
      this.addresses.fail(address, now),
      this.ids.fail(id, now),
    );
  }

  /** Entries kept per table (each at most `maxTracked`). */
  tracked() {
    return { pairs: this.pairs.size, addresses: this.addresses.size, ids: this.ids.size };
  }

  succeeded(id: string, address: string): void {
    this.pairs.clear(pairKey(id, address));
    const known = (this.knownGood.get(id) ?? []).filter((a) => a !== address);
    known.push(address);
    this.knownGood.set(id, known.slice(-KNOWN_GOOD_PER_ID));
  }
}

const pairKey = (id: string, address: string) => `${id}\u0000${address}`;

import { type Scheduler, systemScheduler } from "@evgrid/kit";
import { LoginLimiter, type LoginLimits } from "./login-limits.ts";

/**
 * Security Profile 1 at the upgrade: a charger's id and password, checked so that guessing is slow, an
 * unknown id looks like a wrong password, and a flood of guesses cannot hold up a real charger's connect.
 */
export interface AuthOptions extends LoginLimits {
  /** argon2 verifications running at once (each takes a core for tens of ms). */
  verifyConcurrency: number;
  /** Logins waiting for a verification at most; beyond, refused at once (503). */
  verifyQueue: number;
  /** A login waits this long for a verification at most, then is refused (503). */
  verifyWaitMs: number;
  /** Verifications running or waiting per address at most: one address cannot fill the queue. */
  verifyPerAddress: number;
}

/** What the auth module needs of the registry. */
export interface PasswordStore {
  /** The password matches the one already verified for this id (no argon2). */
  isVerified(chargePointId: string, password: Buffer): boolean;
  /** argon2 against the id's hash, or a dummy one for an unknown id: the same cost either way. */
  verifyPassword(chargePointId: string, password: Buffer): Promise<boolean>;
}

/** ok, or refused: a wrong password or unknown id (401), a lockout (429), no verification slot (503). */
export interface LoginVerdict {
  ok: boolean;
  reason: "ok" | "failed" | "locked" | "busy";
  /** How long this id is now locked out from this address (0: not). */
  lockedMs: number;
}

const OK: LoginVerdict = { ok: true, reason: "ok", lockedMs: 0 };

export class ChargerAuth {
  private readonly limiter: LoginLimiter;
  private readonly queue: VerifyQueue;

  constructor(
    private readonly store: PasswordStore,
    opts: AuthOptions,
    scheduler: Scheduler = systemScheduler,
  ) {
    this.limiter = new LoginLimiter(opts, () => scheduler.now());
    this.queue = new VerifyQueue(opts, scheduler);
  }

  /** Verifications running and waiting now. */
  get pending(): number {
    return this.queue.pending;
  }

  async login(id: string, address: string, password: Buffer | undefined): Promise<LoginVerdict> {
    const lockedMs = this.limiter.lockedForMs(id, address);
    if (lockedMs > 0) return { ok: false, reason: "locked", lockedMs };
    // A known charger reconnecting with the password it used before skips argon2 and the queue.
    if (password && this.store.isVerified(id, password)) {
      this.limiter.succeeded(id, address);
      return OK;
    }
    const ok = password
      ? await this.queue.run(
          address,
          () => this.store.verifyPassword(id, password),
          this.limiter.isClean(address),
        )
      : false;
    if (ok === "busy") return { ok: false, reason: "busy", lockedMs: 0 };
    if (!ok) return { ok: false, reason: "failed", lockedMs: this.limiter.failed(id, address) };
    this.limiter.succeeded(id, address);
    return OK;
  }
}

interface Waiter {
  address: string;
  /** From an address with no recent failed login: served before, and never pushed out by, the others. */
  clean: boolean;
  settle: (started: boolean) => void;
  timer: { cancel(): void };
}

/**
 * A semaphore with a bounded queue, a bounded wait and a bounded share per address. Logins from clean
 * addresses (no failures) go ahead of those from addresses that have failed, and when the queue is full
 * take the place of the last of those: a guessing flood, whose addresses soon all have failures, cannot
 * keep a real charger waiting behind it or refuse it as busy.
 */
export class VerifyQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly opts: Pick<
      AuthOptions,
      "verifyConcurrency" | "verifyQueue" | "verifyWaitMs" | "verifyPerAddress"
    >,
    private readonly scheduler: Scheduler = systemScheduler,
  ) {}

  get pending(): number {
    return this.running + this.waiting.length;
  }

  /** Runs `job` when a slot is free; "busy" at once if the queue (or this address's share) is full. */
  async run<T>(address: string, job: () => Promise<T>, clean = false): Promise<T | "busy"> {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= this.opts.verifyPerAddress) return "busy";
    if (this.running < this.opts.verifyConcurrency) {
      this.perAddress.set(address, mine + 1);
      this.running += 1;
    } else {
      const firstDirty = this.waiting.findIndex((w) => !w.clean);
      if (this.waiting.length >= this.opts.verifyQueue) {
        if (!clean || firstDirty < 0) return "busy";
        this.remove(this.waiting[this.waiting.length - 1] as Waiter).settle(false);
      }
      this.perAddress.set(address, mine + 1);
      const started = await new Promise<boolean>((settle) => {
        const waiter: Waiter = {
          address,
          clean,
          settle,
          timer: this.scheduler.schedule(() => this.remove(waiter).settle(false), this.opts.verifyWaitMs),
        };
        const at = clean ? this.waiting.findIndex((w) => !w.clean) : -1;
        this.waiting.splice(at < 0 ? this.waiting.length : at, 0, waiter);
      });
      if (!started) {
        this.release(address);
        return "busy";
      }
    }
    try {
      return await job();
    } finally {
      this.running -= 1;
      this.release(address);
      const next = this.waiting.shift();
      if (next) {
        next.timer.cancel();
        this.running += 1;
        next.settle(true);
      }
    }
  }

  private remove(waiter: Waiter): Waiter {
    const i = this.waiting.indexOf(waiter);
    if (i >= 0) this.waiting.splice(i, 1);
    waiter.timer.cancel();
    return waiter;
  }

  private release(address: string): void {
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }
}

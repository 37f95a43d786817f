import { describe, expect, test } from "bun:test";
import { manualScheduler } from "@evgrid/kit";
import fc from "fast-check";
import { ChargerAuth, VerifyQueue } from "../src/auth.ts";
import { LoginLimiter, type LoginLimits } from "../src/login-limits.ts";

const LIMITS: LoginLimits = {
  pairFailures: 3,
  addressFailures: 10,
  idFailures: 5,
  lockoutMs: 1000,
  lockoutMaxMs: 8000,
  maxTracked: 1000,
};

describe("login lockouts (injected clock)", () => {
  test("a pair is locked after its free failures, doubling up to the cap, and forgotten after it", () => {
    let now = 0;
    const l = new LoginLimiter(LIMITS, () => now);
    expect([1, 2, 3].map(() => l.failed("cp", "10.0.0.1"))).toEqual([0, 0, 0]);
    const locks: number[] = [];
    for (let i = 0; i < 6; i++) {
      locks.push(l.failed("cp", "10.0.0.1"));
      now += locks.at(-1) ?? 0;
    }
    expect(locks).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(l.lockedForMs("cp", "10.0.0.1")).toBe(0);
    l.failed("cp", "10.0.0.1");
    expect(l.lockedForMs("cp", "10.0.0.1")).toBe(8000);
    // Quiet for longer than the cap: the count starts over.
    now += 8001 + 8000;
    expect(l.lockedForMs("cp", "10.0.0.1")).toBe(0);
    expect(l.failed("cp", "10.0.0.1")).toBe(0);
  });

  test("a success clears its pair and makes it known good: the address lock spares it", () => {
    const l = new LoginLimiter(LIMITS, () => 0);
    l.succeeded("cp-real", "10.0.0.9");
    for (let i = 0; i < 11; i++) l.failed(`cp-guess-${i}`, "10.0.0.9");
    expect(l.lockedForMs("cp-other", "10.0.0.9")).toBeGreaterThan(0);
    expect(l.lockedForMs("cp-real", "10.0.0.9")).toBe(0);
  });

  test("property: however a guesser elsewhere fails, a charger that never fails is never locked out", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.constantFrom("cp-real", "cp-x", "cp-y"),
            address: fc.constantFrom("10.0.0.2", "10.0.0.3", "10.0.0.4"),
            afterMs: fc.nat(3000),
          }),
          { maxLength: 200 },
        ),
        fc.boolean(),
        (guesses, knownBefore) => {
          let now = 0;
          const l = new LoginLimiter(LIMITS, () => now);
          if (knownBefore) l.succeeded("cp-real", "10.0.0.1");
          for (const g of guesses) {
            now += g.afterMs;
            if (l.lockedForMs(g.id, g.address) === 0) l.failed(g.id, g.address);
            expect(l.lockedForMs("cp-real", "10.0.0.1")).toBe(0);
            expect(l.lockedForMs("cp-real", "10.0.0.5")).toBe(0);
          }
        },
      ),
    );
  });

  test("property: a guesser at the charger's own address delays it at most the cap after its last guess", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5000), { minLength: 1, maxLength: 100 }), (gaps) => {
        let now = 0;
        const l = new LoginLimiter(LIMITS, () => now);
        l.succeeded("cp-real", "10.0.0.1");
        for (const gap of gaps) {
          now += gap;
          l.failed("cp-real", "10.0.0.1");
          expect(l.lockedForMs("cp-real", "10.0.0.1")).toBeLessThanOrEqual(LIMITS.lockoutMaxMs);
        }
        now += LIMITS.lockoutMaxMs;
        expect(l.lockedForMs("cp-real", "10.0.0.1")).toBe(0);
      }),
    );
  });

  test("a flood of invented ids and addresses is tracked in bounded memory", () => {
    const l = new LoginLimiter({ ...LIMITS, maxTracked: 100 }, () => 0);
    for (let i = 0; i < 10_000; i++) l.failed(`cp-${i}`, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    expect(l.tracked()).toEqual({ pairs: 100, addresses: 100, ids: 100 });
  });

  test("at the bound the entry whose last failure is oldest is forgotten, not the one failing again", () => {
    const l = new LoginLimiter({ ...LIMITS, maxTracked: 3 }, () => 0);
    const fail = (id: string) => l.failed(id, `10.0.0.${id.charCodeAt(0)}`);
    for (const id of ["a", "a", "b", "b", "c", "c", "a"]) expect(fail(id)).toBe(0);
    fail("d"); // four pairs: "b" (its last failure the oldest) goes, "a" (failing again since) stays
    expect(fail("b")).toBe(0); // counted from one again
    expect(fail("a")).toBeGreaterThan(0); // its fourth failure: locked
  });
});

describe("the verification queue", () => {
  const held = () => {
    const releases: (() => void)[] = [];
    const job = () => new Promise<boolean>((resolve) => releases.push(() => resolve(true)));
    return { job, release: () => releases.shift()?.() };
  };
  const opts = { verifyConcurrency: 1, verifyQueue: 2, verifyWaitMs: 500, verifyPerAddress: 2 };

  test("beyond its concurrency logins wait; beyond its queue or an address's share they are refused at once", async () => {
    const clock = manualScheduler();
    const q = new VerifyQueue(opts, clock);
    const h = held();
    const running = q.run("a", h.job);
    const waitingA = q.run("a", h.job);
    expect(await q.run("a", h.job)).toBe("busy"); // the address's share
    const waitingB = q.run("b", h.job);
    expect(await q.run("c", h.job)).toBe("busy"); // the queue
    expect(q.pending).toBe(3);
    h.release();
    expect(await running).toBe(true);
    await Promise.resolve();
    h.release();
    expect(await waitingA).toBe(true);
    await Promise.resolve();
    h.release();
    expect(await waitingB).toBe(true);
    expect(q.pending).toBe(0);
  });

  test("a login that waits longer than verifyWaitMs is refused, and its place is freed", async () => {
    const clock = manualScheduler();
    const q = new VerifyQueue(opts, clock);
    const h = held();
    const running = q.run("a", h.job);
    const waiting = q.run("b", h.job);
    clock.advance(500);
    expect(await waiting).toBe("busy");
    expect(q.pending).toBe(1);
    h.release();
    expect(await running).toBe(true);
  });

  test("a login from a clean address goes first, and takes a full queue's last place from a failed address", async () => {
    const clock = manualScheduler();
    const q = new VerifyQueue({ ...opts, verifyPerAddress: 10 }, clock);
    const h = held();
    const order: string[] = [];
    const tagged = (name: string) => () => {
      order.push(name);
      return h.job();
    };
    const running = q.run("guesser", tagged("guess-1"));
    const dirty1 = q.run("guesser", tagged("guess-2"));
    const dirty2 = q.run("guesser", tagged("guess-3"));
    const clean = q.run("charger", tagged("charger"), true);
    expect(await dirty2).toBe("busy"); // pushed out
    expect(await q.run("guesser", tagged("guess-4"))).toBe("busy");
    for (const done of [running, clean, dirty1]) {
      h.release();
      expect(await done).toBe(true);
      await Promise.resolve();
    }
    expect(order).toEqual(["guess-1", "charger", "guess-2"]);
  });

  test("a verified password skips the queue, even when it is full", async () => {
    const clock = manualScheduler();
    const h = held();
    let argon2 = 0;
    const auth = new ChargerAuth(
      {
        isVerified: (id) => id === "cp-known",
        verifyPassword: () => {
          argon2 += 1;
          return h.job();
        },
      },
      { ...LIMITS, ...opts, verifyQueue: 0 },
      clock,
    );
    const pending = auth.login("cp-new", "10.0.0.1", Buffer.from("x"));
    expect((await auth.login("cp-new2", "10.0.0.2", Buffer.from("x"))).reason).toBe("busy");
    expect((await auth.login("cp-known", "10.0.0.3", Buffer.from("x"))).ok).toBe(true);
    expect(argon2).toBe(1);
    h.release();
    expect((await pending).ok).toBe(true);
  });
});

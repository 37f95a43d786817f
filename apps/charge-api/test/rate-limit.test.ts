import { expect, test } from "bun:test";
import { RateLimiter } from "../src/rate-limit.ts";

const limit = { ratePerS: 1, burst: 2 };
const allowed = (r: RateLimiter, owner: string) => {
  try {
    r.take(owner);
    return true;
  } catch {
    return false;
  }
};

test("past its bound the least recently seen caller is forgotten: it starts again with a full bucket", () => {
  const r = new RateLimiter(limit, 3, () => 0);
  for (const owner of ["a", "a", "b", "b"]) expect(allowed(r, owner)).toBe(true);
  expect([allowed(r, "a"), allowed(r, "b")]).toEqual([false, false]); // both spent, and "b" seen last
  // A flood of new callers: "a" (seen before "b") goes first, then "b".
  expect(allowed(r, "c")).toBe(true);
  expect(allowed(r, "d")).toBe(true);
  expect([allowed(r, "b"), allowed(r, "a")]).toEqual([false, true]);
});

test("a flood of new callers keeps the table at its bound, each forgotten in turn", () => {
  const r = new RateLimiter(limit, 1_000, () => 0);
  for (let i = 0; i < 50_000; i++) r.take(`addr:${i}`);
  // The last thousand are remembered (spent once), the earlier ones are not.
  for (let i = 49_000; i < 50_000; i += 100) expect(allowed(r, `addr:${i}`)).toBe(true);
  for (let i = 49_000; i < 50_000; i += 100) expect(allowed(r, `addr:${i}`)).toBe(false);
  expect([allowed(r, "addr:0"), allowed(r, "addr:0")]).toEqual([true, true]); // forgotten: a full bucket
});

/** The seeded source every generated day draws from: unbiased from the first draw, whatever the seed. */
import { expect, test } from "bun:test";
import { Random } from "../src/arrivals.ts";

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

test("a day's arrival count is unbiased over seeds, small, negative or past 32 bits", () => {
  // Poisson(10,000): sd 100, so the mean of 200 seeds is within 3 standard errors (21) of 10,000.
  for (const from of [1, -200, 2 ** 40]) {
    const counts = seeds(from, 200).map((seed) => new Random(seed).poisson(10_000));
    expect({ from, off: Math.abs(mean(counts) - 10_000) <= 21 }).toEqual({ from, off: true });
  }
  // The first draw of small seeds: spread over [0, 1) (its mean within 3 standard errors of 0.5).
  const firsts = seeds(1, 300).map((seed) => new Random(seed).next());
  expect(Math.abs(mean(firsts) - 0.5)).toBeLessThan(3 * Math.sqrt(1 / 12 / 300));
  // A seed past 32 bits is a seed of its own.
  expect(new Random(2 ** 32 + 1).next()).not.toBe(new Random(1).next());
});

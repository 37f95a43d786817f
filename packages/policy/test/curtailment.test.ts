import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { curtailNewestFirst } from "../src/curtailment.ts";

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe("curtailNewestFirst", () => {
  test("sheds the newest sessions, and only as many as the new limit needs", () => {
    // 5 x 10 kW admitted; a 32 kW limit keeps the 3 oldest.
    expect(curtailNewestFirst([10, 10, 10, 10, 10], 50, 32)).toBe(2);
    expect(curtailNewestFirst([10, 10, 10, 10, 10], 50, 50)).toBe(0);
    expect(curtailNewestFirst([10, 10, 10, 10, 10], 50, 0)).toBe(5);
  });

  test("a big newest session may be enough on its own", () => {
    expect(curtailNewestFirst([40, 4.2, 4.2], 48.4, 10)).toBe(1);
  });

  test("property: what is left fits, and one fewer shed would not", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 1, max: 350, noNaN: true }), { maxLength: 40 }),
        fc.double({ min: 0, max: 5000, noNaN: true }),
        (mins, capacityKw) => {
          const committed = sum(mins);
          const shed = curtailNewestFirst(mins, committed, capacityKw);
          const left = sum(mins.slice(shed));
          const fits = left <= capacityKw + 1e-6;
          const minimal = shed === 0 || sum(mins.slice(shed - 1)) > capacityKw;
          return fits && minimal;
        },
      ),
    );
  });
});

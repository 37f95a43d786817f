import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decideAdmission, effectiveCapacityKw } from "../src/admission.ts";

describe("effectiveCapacityKw", () => {
  test("is the capacity without a limit and the lower of the two with one", () => {
    expect(effectiveCapacityKw({ capacityKw: 150, limitKw: null })).toBe(150);
    expect(effectiveCapacityKw({ capacityKw: 150, limitKw: 90 })).toBe(90);
    expect(effectiveCapacityKw({ capacityKw: 150, limitKw: 400 })).toBe(150);
  });
});

describe("decideAdmission", () => {
  const site = { capacityKw: 42, limitKw: null };

  test("admits while the minimums fit, exactly up to the capacity", () => {
    expect(decideAdmission(site, 9 * 4.2, 4.2)).toEqual({ admitted: true });
  });

  test("refuses the one that does not fit and names the hardware as the constraint", () => {
    expect(decideAdmission(site, 10 * 4.2, 4.2)).toEqual({
      admitted: false,
      reason: "INSUFFICIENT_CAPACITY",
      headroomKw: 0,
    });
  });

  test("names the operator limit when only the limit stands in the way", () => {
    const curtailed = { capacityKw: 150, limitKw: 20 };
    expect(decideAdmission(curtailed, 16.8, 4.2)).toEqual({
      admitted: false,
      reason: "OPERATOR_LIMIT",
      headroomKw: expect.closeTo(3.2, 9),
    });
  });

  test("property: admitted minimums never exceed the effective capacity", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 2500, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 2500, noNaN: true })),
        fc.array(fc.double({ min: 0.1, max: 350, noNaN: true }), { maxLength: 200 }),
        (capacityKw, limitKw, mins) => {
          const s = { capacityKw, limitKw };
          let committed = 0;
          for (const m of mins) {
            if (decideAdmission(s, committed, m).admitted) committed += m;
          }
          expect(committed).toBeLessThanOrEqual(effectiveCapacityKw(s) + 1e-6);
        },
      ),
    );
  });
});

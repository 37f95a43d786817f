import { expect, test } from "bun:test";
import { priorityClassSchema } from "@evgrid/contract";
import { PRIORITY_CLASSES, PRIORITY_WEIGHT } from "@evgrid/policy";

test("the wire's priority classes are the policy's, each with a weight, in rank order", () => {
  expect(priorityClassSchema.options).toEqual([...PRIORITY_CLASSES]);
  const weights = PRIORITY_CLASSES.map((c) => PRIORITY_WEIGHT[c]);
  expect(weights).toEqual([...weights].sort((a, b) => a - b));
  expect(PRIORITY_WEIGHT.standard).toBe(1);
});

import { expect, test } from "bun:test";
import fc from "fast-check";
import { MapFront } from "../src/map-front.ts";

const op = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("reset" as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("evict" as const) }),
  fc.record({ kind: fc.constant("release" as const) }),
);

test("the first key is the Map's own, whatever was set, set again, deleted, evicted or emptied before", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const map = new Map<string, number>();
      const front = new MapFront(map, 1_000);
      for (const o of ops) {
        if (o.kind === "set") map.set(`k${o.key}`, o.key);
        else if (o.kind === "reset") {
          map.delete(`k${o.key}`); // set again: last
          map.set(`k${o.key}`, o.key);
        } else if (o.kind === "delete") map.delete(`k${o.key}`);
        else if (o.kind === "release") front.release();
        else {
          const first = front.first();
          expect(first).toBe(map.keys().next().value);
          if (first !== undefined) map.delete(first);
        }
      }
      const first = front.first();
      expect(first).toBe(map.keys().next().value);
    }),
    { numRuns: 300 },
  );
});

test("a FIFO at its bound of 200,000: the oldest goes each time, across the map's rehashes", () => {
  const map = new Map<number, number>();
  const front = new MapFront(map, 200_000);
  for (let i = 0; i < 200_000; i++) {
    map.set(i, i);
    expect(front.over()).toBeUndefined(); // within its bound
  }
  for (let i = 200_000; i < 600_000; i++) {
    map.set(i, i);
    const first = front.over() as number;
    expect(first).toBe(i - 200_000);
    map.delete(first);
  }
  expect(map.size).toBe(200_000);
});

import { expect, test } from "bun:test";
import fc from "fast-check";
import { InsertionOrder } from "../src/insertion-order.ts";

/** A bounded map as the apps keep one: set (again) moves a key last, delete, and evict the oldest. */
class Bounded {
  readonly map = new Map<string, number>();
  readonly order = new InsertionOrder<string, number>();
  private stamps = 0;

  set(key: string): void {
    this.map.delete(key);
    const stamp = ++this.stamps;
    this.map.set(key, stamp);
    this.order.add(key, stamp);
    this.order.trim(this.map.size, () => this.map);
  }

  oldest(): string | undefined {
    return this.order.oldest((k, stamp) => this.map.get(k) === stamp);
  }
}

const op = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("delete" as const), key: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("evict" as const) }),
);

test("the oldest key is the Map's first, whatever was set again, deleted or evicted before", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const b = new Bounded();
      for (const o of ops) {
        if (o.kind === "set") b.set(`k${o.key}`);
        else if (o.kind === "delete") b.map.delete(`k${o.key}`);
        else {
          const oldest = b.oldest();
          expect(oldest).toBe(b.map.keys().next().value);
          if (oldest !== undefined) b.map.delete(oldest);
        }
        expect(b.oldest()).toBe(b.map.keys().next().value);
      }
    }),
  );
});

test("it holds a sixteenth more than the map at most (and 64), however many keys came and went", () => {
  const b = new Bounded();
  let most = 0;
  for (let i = 0; i < 100_000; i++) {
    b.set(`k${i % 50}`); // the same 50 keys set again and again: every earlier record goes stale
    if (i % 7 === 0) b.map.delete(`k${(i * 13) % 50}`);
    most = Math.max(most, b.order.length);
  }
  expect(b.map.size).toBeLessThanOrEqual(50);
  expect(most).toBeLessThanOrEqual(50 + 3 + 64 + 1);
});

test("a FIFO at its bound: each eviction passes over only what went stale since the last", () => {
  // As the substation keeps its last 10,000 ended sessions: insert one, evict the oldest, 200,000 times.
  const b = new Bounded();
  for (let i = 0; i < 10_000; i++) b.set(`s${i}`);
  let checks = 0;
  for (let i = 10_000; i < 210_000; i++) {
    b.set(`s${i}`);
    const oldest = b.order.oldest((k, stamp) => {
      checks += 1;
      return b.map.get(k) === stamp;
    });
    if (oldest !== undefined) b.map.delete(oldest);
  }
  expect(b.map.size).toBe(10_000);
  expect(b.map.keys().next().value).toBe("s200000");
  // One live check per eviction, and one per record it dropped: about two per eviction, not thousands.
  expect(checks / 200_000).toBeLessThan(2.01);
});

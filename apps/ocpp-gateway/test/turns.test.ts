import { describe, expect, test } from "bun:test";
import { Turns } from "../src/turns.ts";

const never = new AbortController().signal;

describe("turns per charge point", () => {
  test("one at a time per key, in order; other keys do not wait", async () => {
    const turns = new Turns();
    const order: string[] = [];
    const first = await turns.take("cp-1", never);
    const second = turns.take("cp-1", never).then((release) => {
      order.push("second");
      return release;
    });
    const other = await turns.take("cp-2", never);
    order.push("other");
    other?.();
    await new Promise((resolve) => setImmediate(resolve));
    order.push("first done");
    first?.();
    (await second)?.();
    expect(order).toEqual(["other", "first done", "second"]);
  });

  test("a waiter that gives up its place lets no newcomer past the holder", async () => {
    const turns = new Turns();
    const order: string[] = [];
    const holder = await turns.take("cp", never);
    const quitter = new AbortController();
    const gaveUp = turns.take("cp", quitter.signal);
    quitter.abort();
    expect(await gaveUp).toBeNull();
    const newcomer = turns.take("cp", never).then((release) => {
      order.push("newcomer");
      return release;
    });
    // Every promise that could run has run once a macrotask comes round: the newcomer still waits.
    await new Promise((resolve) => setImmediate(resolve));
    order.push("holder done");
    holder?.();
    (await newcomer)?.();
    expect(order).toEqual(["holder done", "newcomer"]);
  });
});

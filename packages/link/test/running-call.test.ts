/** A call's abort signal is made only when read, and still says what happened before it was read. */
import { describe, expect, test } from "bun:test";
import { RunningCall } from "../src/running-call.ts";

const aborted = (signal: AbortSignal) =>
  new Promise<boolean>((resolve) => {
    if (signal.aborted) resolve(true);
    else signal.addEventListener("abort", () => resolve(true), { once: true });
  });

describe("RunningCall", () => {
  test("aborted before its signal was read (the link dropped): the signal read later starts aborted", () => {
    const call = new RunningCall(null);
    call.abort();
    expect(call.signal.aborted).toBe(true);
  });

  test("a signal read first fires when the call is aborted", async () => {
    const call = new RunningCall(null);
    const { signal } = call;
    expect(signal.aborted).toBe(false);
    call.abort();
    expect(await aborted(signal)).toBe(true);
  });

  test("a deadline already past when the signal is read aborts it (a waiting dispatch leaves the queue)", async () => {
    const call = new RunningCall(Date.now() - 1);
    expect(await aborted(call.signal)).toBe(true);
    call.finish();
  });

  test("the same signal on every read", () => {
    const call = new RunningCall(null);
    expect(call.signal).toBe(call.signal);
  });
});

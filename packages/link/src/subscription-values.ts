import type { SubscribeOptions } from "./client-types.ts";

/**
 * A link subscription as an async generator: every value until the peer ends it, its error thrown, and the
 * subscription stopped when the consumer stops reading or `signal` aborts. Values wait in a queue of at most
 * `maxQueued`; past it the generator fails rather than hold an unbounded backlog.
 */
export async function* subscriptionValues<T>(
  subscribe: (o: Required<SubscribeOptions<T>>) => { unsubscribe(): void },
  signal?: AbortSignal,
  maxQueued = 10_000,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let failure: Error | null = null;
  let done = false;
  let wake: (() => void) | null = null;
  const notify = () => wake?.();
  const sub = subscribe({
    onData: (data) => {
      if (queue.length >= maxQueued) failure ??= new Error(`more than ${maxQueued} values waiting`);
      else queue.push(data);
      notify();
    },
    onError: (err) => {
      failure ??= err;
      notify();
    },
    onComplete: () => {
      done = true;
      notify();
    },
  });
  const aborted = () => {
    done = true;
    notify();
  };
  signal?.addEventListener("abort", aborted, { once: true });
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift() as T;
        continue;
      }
      if (failure) throw failure;
      if (done || signal?.aborted) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  } finally {
    signal?.removeEventListener("abort", aborted);
    sub.unsubscribe();
  }
}

import type { SubscribeOptions, Unsubscribable } from "./client-types.ts";

/** A subscription procedure of a typed client (`client.watchPower`): its values' type comes with it. */
export interface Subscribable<TInput, TData> {
  subscribe(input: TInput, opts: SubscribeOptions<TData>): Unsubscribable;
}

/**
 * A link subscription as an async generator, `subscriptionValues(client.watchPower, undefined, signal)`,
 * typed from the router: every value until the peer ends it, its error thrown, and the subscription stopped
 * when the consumer stops reading or `signal` aborts. Values wait in a queue of at most
 * `maxQueued`; past it the generator fails rather than hold an unbounded backlog.
 */
export async function* subscriptionValues<TInput, T>(
  procedure: Subscribable<TInput, T>,
  input: TInput,
  signal?: AbortSignal,
  maxQueued = 10_000,
): AsyncGenerator<T> {
  const queue: T[] = [];
  let failure: Error | null = null;
  let done = false;
  let wake: (() => void) | null = null;
  const notify = () => wake?.();
  const sub = procedure.subscribe(input, {
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

import { freePort } from "@evgrid/kit/listening";

/**
 * Starts something on a port found free (`start`), and again on another while its failure says the port was
 * taken in between (another process bound it first, on a busy machine): five tries at most.
 */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(freePort());
    } catch (err) {
      if (attempt >= tries || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

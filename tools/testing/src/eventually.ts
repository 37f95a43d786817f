/**
 * Polls `check` until it returns without throwing (an `expect` inside is fine), then returns what it
 * returned; after `timeoutMs` the last failure is thrown. For conditions that become true in the background
 * (a heartbeat arrives, a refresh happens, a session ends): no fixed sleep, no flakiness on a slow machine.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await Bun.sleep(opts.intervalMs ?? 20);
  }
}

import type { RedisClient } from "bun";
import type { Script } from "./redis-scripts.ts";
import { openStoreClient, type StoreConnection } from "./store-connection.ts";

/** The store did not answer this command in time (or at all): for this call, the store is down. */
export class StoreUnavailable extends Error {}

/**
 * The connection to Valkey/Redis: every command with its own timeout (a paused store never hangs a
 * request), scripts by EVALSHA, and wake-ups by pub/sub on a second connection (a subscribed one can send
 * nothing else).
 */
export class RedisLink {
  private readonly client: RedisClient;
  private subscriber: Promise<RedisClient> | undefined;
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(
    conn: StoreConnection,
    private readonly commandTimeoutMs: number,
  ) {
    // Commands fail at once while disconnected (no offline queue): a dispatch never waits on a dead store.
    // Credentials and TLS come with the connection (store-connection.ts); the subscriber duplicates them.
    this.client = openStoreClient(conn, {
      enableOfflineQueue: false,
      connectionTimeout: 2000,
      autoReconnect: true,
      maxRetries: 4_294_967_295,
    });
  }

  /** Resolves once connected or failed; the client keeps trying in the background (autoReconnect). */
  connect(): Promise<void> {
    return this.client.connect().catch(() => {});
  }

  /** One command, answered within the command timeout or failed with StoreUnavailable. */
  async send(command: string, args: string[]): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailable(`${command}: no answer within ${this.commandTimeoutMs} ms`)),
        this.commandTimeoutMs,
      );
    });
    try {
      return await Promise.race([this.client.send(command, args), timeout]);
    } catch (err) {
      throw err instanceof StoreUnavailable
        ? err
        : new StoreUnavailable(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a script by its digest, loading it first if the store does not have it (new, or restarted). */
  async run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.send("EVALSHA", [script.sha, String(keys.length), ...keys, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes("NOSCRIPT")) throw err;
      await this.send("SCRIPT", ["LOAD", script.text]);
      return this.send("EVALSHA", [script.sha, String(keys.length), ...keys, ...args]);
    }
  }

  /** Does the store answer now? */
  ping(): Promise<boolean> {
    return this.send("PING", []).then(
      () => true,
      () => false,
    );
  }

  /**
   * Calls `wake` on every message on `channel` until the returned function is called. Resolves once the
   * subscription holds (or failed: the caller's bound then wakes it).
   */
  async listen(channel: string, wake: () => void): Promise<() => void> {
    let set = this.wakers.get(channel);
    if (!set) {
      set = new Set();
      this.wakers.set(channel, set);
      const subscribed = this.subscriberClient().then((s) =>
        s.subscribe(channel, () => {
          for (const w of this.wakers.get(channel) ?? []) w();
        }),
      );
      await Promise.race([subscribed.catch(() => {}), Bun.sleep(this.commandTimeoutMs)]);
    }
    set.add(wake);
    return () => {
      const now = this.wakers.get(channel);
      now?.delete(wake);
      if (now?.size === 0) {
        this.wakers.delete(channel);
        void this.subscriber?.then((s) => s.unsubscribe(channel)).catch(() => {});
      }
    };
  }

  close(): void {
    this.client.close();
    void this.subscriber?.then((s) => s.close()).catch(() => {});
  }

  private subscriberClient(): Promise<RedisClient> {
    // A failed connection is tried again by the next waiter.
    this.subscriber ??= this.client.duplicate().catch((err: unknown) => {
      this.subscriber = undefined;
      throw err;
    });
    return this.subscriber;
  }
}

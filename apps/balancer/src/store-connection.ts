import { readFileSync } from "node:fs";
import type { DispatchRequest, Session } from "@evgrid/contract";
import type { Logger } from "@evgrid/kit";
import { redactUrl } from "@evgrid/kit/redact";
import { RedisClient, type RedisOptions } from "bun";
import type { MemoryStore } from "./memory.ts";

/**
 * How to reach the shared Valkey/Redis, closed: `REDIS_URL` may carry a user and password
 * (`redis://user:password@host:6379`, an ACL user; `redis://:password@host` for `requirepass`), `rediss://`
 * (or `valkeys://`) is TLS, verified against the system's CAs or `REDIS_TLS_CA_FILE`. `REDIS_PASSWORD`, when
 * set, replaces the URL's password: a Kubernetes Secret can then be used as it is, without URL-encoding it.
 */
export interface StoreConnection {
  url: string;
  password?: string | undefined;
  /** A PEM file of the CA(s) that signed the store's certificate (a private CA, a self-signed store). */
  tlsCaFile?: string | undefined;
}

/** The URL and TLS options Bun's RedisClient takes for this connection. */
export function clientArgs(conn: StoreConnection): { url: string; tls: RedisOptions["tls"] | undefined } {
  const parsed = new URL(conn.url);
  // The URL API percent-encodes what it is given: any password survives the trip, `@` and `:` included.
  if (conn.password !== undefined) parsed.password = conn.password;
  const secure = parsed.protocol === "rediss:" || parsed.protocol === "valkeys:";
  const tls =
    secure && conn.tlsCaFile !== undefined ? { ca: readFileSync(conn.tlsCaFile, "utf8") } : undefined;
  return { url: parsed.href, tls };
}

/** A client for the store with the house's settings on top of `options` (TLS from the connection). */
export function openStoreClient(conn: StoreConnection, options: RedisOptions): RedisClient {
  const { url, tls } = clientArgs(conn);
  return new RedisClient(url, { ...options, ...(tls ? { tls } : {}) });
}

/** The store as it may be logged: never its password. */
export function printableStore(conn: StoreConnection): string {
  return redactUrl(conn.url);
}

/** What the shared store (redis-store.ts) is given: where it is and how to log in, and the rest. */
export interface RedisStoreOptions extends StoreConnection {
  /** How long an idempotency key is honoured. */
  keyTtlMs: number;
  /** How long a claim holds without being finished (a dispatch's deadline, and some). */
  leaseMs: number;
  /** A vehicle's home outlives its session's expected end by this (VEHICLE_HOME_GRACE_MS: late ends). */
  vehicleGraceMs: number;
  /** Each store command at most: past it, the store is down for that call (well inside the deadline). */
  commandTimeoutMs: number;
  /** This replica's own memory: coalescing, retries, and the claim it records in while the store is silent. */
  fallback: MemoryStore;
  /** Every session of the grid (null if a substation did not answer): what a forgetful store is rebuilt from. */
  sessions: () => Promise<Session[] | null>;
  /** Where a request goes while the store cannot vouch (since `sinceMs`), or a certain refusal: degraded.ts. */
  degradedHome: (req: DispatchRequest, sinceMs: number) => Promise<string>;
  /** The store forgot (its epoch changed or vanished): a counter, and an alert. */
  onReset?: () => void;
  /** Whether the store's maxmemory-policy may evict keys, at each probe (a gauge, and an alert). */
  onEvicting?: (evicting: boolean) => void;
  /** A value that does not parse (or was planted without expiry) was treated as absent. */
  onBadValue?: () => void;
  log?: Logger;
  now?: () => number;
}

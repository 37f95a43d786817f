import { readFileSync } from "node:fs";
import { redactUrl } from "@evgrid/kit/redact";
import { RedisClient, type RedisOptions } from "bun";

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

import { commonEnvShape, loadEnv, portSchema, positiveMsSchema, urlListSchema } from "@evgrid/kit";
import { z } from "zod";

const schema = z.object({
  ...commonEnvShape,
  PORT: portSchema.default(8081),
  /**
   * Comma-separated substation base URLs; each one's id is learned from its getLoad answer. May be empty
   * when substations register themselves.
   */
  SUBSTATION_URLS: urlListSchema.default(["http://127.0.0.1:8101", "http://127.0.0.1:8102"]),
  /** How often every substation's load is fetched in the background. */
  LOAD_REFRESH_MS: positiveMsSchema.default(500),
  /** Timeout of each call to a substation. */
  CALL_TIMEOUT_MS: positiveMsSchema.default(1000),
  /** The whole dispatch, all tries included. */
  DISPATCH_DEADLINE_MS: positiveMsSchema.default(3000),
  /**
   * A vehicle stays homed at the substation of its last session this long past the session's expected end:
   * that substation ends it when its timer fires, late if its event loop stalls, and refuses the vehicle until
   * then; a request asked anywhere else meanwhile would be a second active session.
   */
  VEHICLE_HOME_GRACE_MS: positiveMsSchema.default(60_000),
  DISPATCH_MAX_TRIES: z.coerce.number().int().min(1).max(100).default(3),
  /** Longest wait between probes of a substation that keeps failing (back-off doubles up to this). */
  MAX_BACKOFF_MS: positiveMsSchema.default(10_000),
  /** A registered substation that has not heartbeated for this long leaves rotation. */
  HEARTBEAT_TIMEOUT_MS: positiveMsSchema.default(6000),
  /** Active sessions one caller (API key, or address in open mode) may hold across the grid. */
  QUOTA_ACTIVE_SESSIONS: z.coerce.number().int().min(1).max(10_000_000).default(100),
  /** Share of the grid's capacity in force that one caller's session minimums may take, (0, 1]. */
  QUOTA_GRID_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  /** Requests one caller may have waiting for capacity (waitS). */
  QUOTA_WAITING: z.coerce.number().int().min(0).max(1_000_000).default(10),
  /** Requests waiting for capacity, all callers together; more are refused with WAIT_QUEUE_FULL. */
  WAIT_QUEUE_MAX: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  /**
   * Valkey/Redis shared by every balancer replica (redis://, rediss://, valkey://): idempotency keys, each
   * vehicle's session, the wait queue's order and each caller's quotas then hold across replicas. Unset:
   * one replica, in memory.
   */
  REDIS_URL: z.preprocess(
    (v) => (v === "" ? undefined : v), // set but empty: unset, as shells and compose files often leave it
    z
      .url({
        protocol: /^(redis|rediss|valkey|valkeys)$/,
        error: "REDIS_URL must be a redis://, rediss://, valkey:// or valkeys:// URL",
      })
      .optional(),
  ),
  /**
   * The store's password, replacing REDIS_URL's (a Kubernetes Secret as it is, no URL-encoding). With an ACL
   * user, put the user in REDIS_URL (`redis://evgrid@valkey:6379`).
   */
  REDIS_PASSWORD: z.preprocess((v) => (v === "" ? undefined : v), z.string().optional()),
  /** PEM file of the CA that signed a rediss:// store's certificate (a private CA); unset: the system's CAs. */
  REDIS_TLS_CA_FILE: z.preprocess((v) => (v === "" ? undefined : v), z.string().optional()),
  /**
   * Each command to REDIS_URL at most, claims and quotas alike: past it the store counts as down for that
   * call (requests go where the substations say, quotas per replica), so a paused store never holds a
   * request; well inside DISPATCH_DEADLINE_MS.
   */
  REDIS_COMMAND_TIMEOUT_MS: positiveMsSchema.default(300),
  /**
   * Homes (idempotency keys, vehicles' sessions) this balancer keeps in memory with no REDIS_URL (or while
   * its store is down); past it the oldest go, live ones too (README, "Idempotency").
   */
  MEMORY_HOMES: z.coerce.number().int().min(1).max(10_000_000).default(200_000),
  /** How long an idempotency key is honoured (hours). */
  IDEMPOTENCY_TTL_H: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
});

export type BalancerEnv = z.output<typeof schema>;
/** The schema itself (the Kubernetes manifests are checked against it). */
export const envSchema = schema;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("balancer", schema, env);

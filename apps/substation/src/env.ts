import { substationIdSchema } from "@evgrid/contract";
import {
  commonEnvShape,
  httpUrlSchema,
  loadEnv,
  portSchema,
  positiveMsSchema,
  urlListSchema,
} from "@evgrid/kit";
import { z } from "zod";

const schema = z
  .object({
    SUBSTATION_ID: substationIdSchema.default("substation-1"),
    SUBSTATION_CAPACITY_KW: z.coerce.number().positive().max(1_000_000).default(150),
    /** Optional operator limit at start, in kW. */
    SUBSTATION_LIMIT_KW: z.coerce.number().nonnegative().max(1_000_000).optional(),
    ...commonEnvShape,
    PORT: portSchema.default(8101),
    /** The session journal (SQLite, WAL); ":memory:" keeps nothing across restarts. Default data/<id>.sqlite. */
    SUBSTATION_DB_PATH: z.string().min(1).optional(),
    /**
     * Optional cap on the journal's size in MB (SQLite max_page_count; the WAL comes on top). At the cap the
     * journal behaves as on a full disk: new sessions and settings are refused 503 JOURNAL_UNAVAILABLE,
     * sessions already charging run on and their ends are retried. Unset: the disk is the limit.
     */
    SUBSTATION_JOURNAL_MAX_MB: z.coerce.number().positive().max(1_000_000).optional(),
    /**
     * How long an idempotency key is honoured, in hours from its session's start: a retry within it gets the
     * same session, from memory or from the journal. After it, the key may start a new session.
     */
    IDEMPOTENCY_TTL_H: z.coerce
      .number()
      .positive()
      .max(24 * 365)
      .default(24),
    /** Balancers to register with and heartbeat to (comma-separated); empty: only static membership. */
    BALANCER_URLS: urlListSchema.default([]),
    /** The URL balancers reach this substation on; default http://<HOST>:<port> (127.0.0.1 for 0.0.0.0). */
    ADVERTISE_URL: httpUrlSchema.optional(),
    HEARTBEAT_MS: positiveMsSchema.default(2000),
    /**
     * How often the energy drawn by energy-based sessions is written to the journal (and writes the journal
     * could not take are retried): a crash loses at most this much accounting; more often is more writes.
     */
    SUBSTATION_CHECKPOINT_MS: positiveMsSchema.default(2000),
    /**
     * Ended sessions are deleted from the journal this many hours after they ended, once exported as charge
     * detail records; at least IDEMPOTENCY_TTL_H, so a key's session is kept as long as the key is honoured.
     */
    SUBSTATION_RETENTION_H: z.coerce
      .number()
      .positive()
      .max(24 * 3650)
      .default(48),
    /**
     * Where ended sessions are exported as charge detail records (JSON Lines, <id>-YYYY-MM-DD.jsonl).
     * Default: cdr/ next to the journal; none for a ":memory:" journal (nothing is kept to bill from).
     */
    SUBSTATION_CDR_DIR: z.string().min(1).optional(),
  })
  .refine((env) => env.SUBSTATION_RETENTION_H >= env.IDEMPOTENCY_TTL_H, {
    path: ["SUBSTATION_RETENTION_H"],
    message:
      "must be at least IDEMPOTENCY_TTL_H: the journal must keep a session as long as its idempotency key is honoured",
  });

export type SubstationEnv = z.output<typeof schema>;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("substation", schema, env);

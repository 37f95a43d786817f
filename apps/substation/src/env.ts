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
import { JOURNAL_SYNC } from "./journal.ts";

/**
 * Several substations in one process: `id=kW` pairs, comma-separated. Each is a substation of its own (its
 * id, port, journal, getLoad and /metrics), sharing the process: so a test or `bun run dev --substations 128`
 * can have many substations without one Bun process each.
 */
const sitesSchema = z
  .string()
  .transform((s) =>
    s.split(",").map((pair) => {
      const [id = "", capacityKw = ""] = pair.trim().split("=");
      return { id, capacityKw: capacityKw === "" ? Number.NaN : Number(capacityKw) };
    }),
  )
  .pipe(
    z
      .array(
        z.object({
          id: substationIdSchema,
          capacityKw: z.number("each site is <id>=<capacity kW>").positive().max(1_000_000),
        }),
      )
      .min(1)
      .max(1000)
      .refine((sites) => new Set(sites.map((s) => s.id)).size === sites.length, "site ids must differ"),
  );

const schema = z
  .object({
    SUBSTATION_ID: substationIdSchema.default("substation-1"),
    SUBSTATION_CAPACITY_KW: z.coerce.number().positive().max(1_000_000).default(150),
    /** Optional operator limit at start, in kW. */
    SUBSTATION_LIMIT_KW: z.coerce.number().nonnegative().max(1_000_000).optional(),
    ...commonEnvShape,
    PORT: portSchema.default(8101),
    /** Several substations in this process (`id=kW,...`), instead of SUBSTATION_ID and _CAPACITY_KW. */
    SUBSTATION_SITES: sitesSchema.optional(),
    /**
     * The session journal (SQLite, WAL); ":memory:" keeps nothing across restarts. Default
     * <SUBSTATION_DATA_DIR>/<id>.sqlite (with SUBSTATION_SITES, only ":memory:" may be given: each site
     * has its own journal in the data directory).
     */
    SUBSTATION_DB_PATH: z.string().min(1).optional(),
    SUBSTATION_DATA_DIR: z.string().min(1).default("data"),
    /**
     * `normal`: a commit survives a crash of the process; `full`: also a power loss (an fsync per group
     * commit, which costs throughput: see BENCHMARKS.md).
     */
    SUBSTATION_SYNC: z.enum(JOURNAL_SYNC).default("normal"),
    /**
     * Group commit: 0 commits the admissions and ends of one event-loop turn together; above, a group waits
     * this long for more (fewer commits, fewer fsyncs with SUBSTATION_SYNC=full; each admission waits for it).
     */
    SUBSTATION_COMMIT_WINDOW_MS: z.coerce.number().int().min(0).max(1000).default(0),
    /** A group this big (admissions and ends) is committed at once, window or not: bounds one transaction. */
    SUBSTATION_COMMIT_MAX_EVENTS: z.coerce.number().int().min(1).max(100_000).default(1000),
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
    /**
     * "dns": join every address each BALANCER_URLS host names, looked up on every heartbeat (a headless
     * Service naming each balancer replica, so replicas added later are joined too); "urls": one each.
     */
    BALANCER_DISCOVERY: z.enum(["urls", "dns"]).default("urls"),
    /** The URL balancers reach this substation on; default http://<HOST>:<port> (127.0.0.1 for 0.0.0.0). */
    ADVERTISE_URL: httpUrlSchema.optional(),
    HEARTBEAT_MS: positiveMsSchema.default(2000),
    /**
     * How often the energy drawn by active sessions, and their meters' readings, are written to the journal
     * (and writes the journal could not take are retried): a crash loses at most this much accounting; more
     * often is more writes.
     */
    SUBSTATION_CHECKPOINT_MS: positiveMsSchema.default(2000),
    /**
     * The least time between two re-shares caused by time alone (a departure session runs out of slack):
     * bounds the re-share rate, and so the level events the gateway pushes to chargers (which it coalesces
     * anyway). A re-share an event causes neither waits for it nor holds it back. The deadline policy counts
     * a session as out of slack if its slack runs out within 0.25 s of the next such re-share's earliest time
     * (its guard; the 0.25 s for a timer that fires late).
     */
    SUBSTATION_RESHARE_MIN_MS: positiveMsSchema.default(1000),
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
  .refine(
    (env) => !env.SUBSTATION_SITES || !env.SUBSTATION_DB_PATH || env.SUBSTATION_DB_PATH === ":memory:",
    {
      path: ["SUBSTATION_DB_PATH"],
      message:
        "with SUBSTATION_SITES each site keeps its journal in SUBSTATION_DATA_DIR; only :memory: may be given",
    },
  )
  .refine((env) => env.SUBSTATION_RETENTION_H >= env.IDEMPOTENCY_TTL_H, {
    path: ["SUBSTATION_RETENTION_H"],
    message:
      "must be at least IDEMPOTENCY_TTL_H: the journal must keep a session as long as its idempotency key is honoured",
  });

export type SubstationEnv = z.output<typeof schema>;

/**
 * One environment per substation this process hosts: just itself, or each of SUBSTATION_SITES with its own
 * id, capacity, journal and port (PORT, PORT+1, ...; every one picked by the OS when PORT is 0).
 */
export function siteEnvs(env: SubstationEnv): SubstationEnv[] {
  if (!env.SUBSTATION_SITES) return [env];
  return env.SUBSTATION_SITES.map((site, i) => ({
    ...env,
    SUBSTATION_SITES: undefined,
    SUBSTATION_ID: site.id,
    SUBSTATION_CAPACITY_KW: site.capacityKw,
    PORT: env.PORT === 0 ? 0 : env.PORT + i,
  }));
}
/** The schema itself (the Kubernetes manifests are checked against it). */
export const envSchema = schema;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("substation", schema, env);

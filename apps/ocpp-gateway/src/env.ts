import {
  balancerUrlsOf,
  balancerUrlsShape,
  commonEnvShape,
  loadEnv,
  portSchema,
  positiveMsSchema,
  trustProxySchema,
} from "@evgrid/kit";
import { z } from "zod";
import type { AuthOptions } from "./auth.ts";

const seconds = z.coerce
  .number()
  .positive()
  .max(7 * 24 * 3600);

const schema = z
  .object({
    ...commonEnvShape,
    /** Admin tRPC (/trpc: registerChargePoint, listChargePoints...), /metrics and /healthz. */
    PORT: portSchema.default(8181),
    /** Where charge points connect: ws://HOST:OCPP_PORT/ocpp/<chargePointId>. */
    OCPP_PORT: portSchema.default(8180),
    /**
     * The balancer replicas, comma-separated (dispatching walk-ins, finding a plugged-in vehicle's session,
     * listing the substations): calls are spread over the healthy ones. BALANCER_URL names one.
     */
    ...balancerUrlsShape,
    /** The registry of charge points and the transactions bound to sessions (SQLite; ":memory:" in tests). */
    OCPP_DB_PATH: z.string().min(1).default("data/ocpp-gateway.sqlite"),
    /**
     * Optional cap on the registry's size in MB (SQLite max_page_count): past it every write fails as on a
     * full disk, and the gateway carries on from memory (stops are still retried until the grid confirms).
     */
    OCPP_DB_MAX_MB: z.coerce.number().positive().max(1_000_000).optional(),
    /** Interval a charger is told to heartbeat at (BootNotification). */
    OCPP_HEARTBEAT_S: z.coerce.number().int().min(1).max(86_400).default(300),
    /** How long a charger's SetChargingProfile / RemoteStop may take before it counts as timed out. */
    OCPP_CALL_TIMEOUT_MS: positiveMsSchema.default(10_000),
    /** A charger gone for this long has its sessions ended (reason charger_offline); back sooner, they resume. */
    OCPP_OFFLINE_GRACE_S: seconds.default(120),
    /** A walk-in (no session booked) charges at most this long, then the grid ends it (24 h at most). */
    OCPP_WALKIN_MAX_S: z.coerce.number().positive().max(86_400).default(86_400),
    /** Walk-ins' minimum power (kW): what admission reserves for them, at most the charge point's maxKw. */
    OCPP_WALKIN_MIN_KW: z.coerce.number().min(1).max(350).default(4.2),
    /** Reclaim: the draw must stay below OCPP_RECLAIM_RATIO of the allocation for this long... */
    OCPP_RECLAIM_WINDOW_S: seconds.default(60),
    OCPP_RECLAIM_RATIO: z.coerce.number().gt(0).lt(1).default(0.8),
    /** ...and the cap is the draw plus this margin (kW). */
    OCPP_RECLAIM_MARGIN_KW: z.coerce.number().min(0).max(50).default(1),
    /**
     * Meter readings kept per transaction inside the window at most: closer than window / this, they are
     * merged (the higher draw), so a charger flooding MeterValues costs bounded memory and reclaim work.
     * One per 100 ms at the default window: an honest meter, reporting every few seconds, is never merged.
     */
    /**
     * A car's needs (NotifyEVChargingNeeds) go to its substation at most once per this many ms per transaction
     * (the newest; nothing lost): each costs a journal write and a re-share there.
     */
    OCPP_NEEDS_MIN_GAP_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
    OCPP_RECLAIM_MAX_SAMPLES: z.coerce.number().int().min(2).max(100_000).default(600),
    /**
     * A meter that says nothing for this long counts as drawing nothing, so reclaim gives its power to the
     * others (a charger configured to never send MeterValues keeps only its minimum).
     */
    OCPP_METER_SILENT_S: seconds.default(300),
    /**
     * At every boot a charger is asked to report its energy register and power this often while it charges
     * (1.6 ChangeConfiguration MeterValueSampleInterval and MeterValuesSampledData; 2.0.1 SetVariables
     * SampledDataCtrlr TxUpdatedInterval and TxUpdatedMeasurands): reclaim and the over-draw check read them;
     * then to stop a transaction whose start was refused (StopTransactionOnInvalidId, TxCtrlr.StopTxOnInvalidId).
     * 0: chargers' own settings are left as they are.
     */
    OCPP_METER_INTERVAL_S: z.coerce.number().int().min(0).max(3600).default(15),
    /**
     * A charger whose meter shows power above its connector's limit (plus OCPP_OVERDRAW_MARGIN_PCT of it and
     * OCPP_OVERDRAW_MARGIN_KW) in every reading for this long, or a register that grew more than its limits
     * allowed (each for as long as it was in force) by over OCPP_METER_SLACK_WH in all, takes no limits,
     * whatever it answers, until an operator clears it (clearOverdraw; kept across restarts):
     * counted at its maximum, its sessions pinned there (stopped if that does not fit, or if their own
     * maximum is below it), its waiting ones turned away. One power reading within the limit starts that
     * count again (a car ramping down after a lower limit).
     */
    OCPP_OVERDRAW_S: seconds.default(30),
    OCPP_OVERDRAW_MARGIN_PCT: z.coerce.number().min(0).max(1000).default(10),
    OCPP_OVERDRAW_MARGIN_KW: z.coerce.number().min(0).max(1000).default(1),
    /**
     * Meter readings above what the connector's maximum could deliver since the last one (and since the start)
     * are ignored and counted; this much energy (Wh) is allowed on top: a kWh meter steps 1,000 Wh at once.
     */
    OCPP_METER_SLACK_WH: z.coerce.number().min(0).max(100_000).default(1000),
    /**
     * How often bound sessions are checked against their substations: an end whose event was lost while a
     * link was down is found within this long (power changes always come as events; this is only a safety net).
     */
    OCPP_RECONCILE_S: seconds.default(30),
    /**
     * Open transactions one charge point may hold (its connectors in use): each is a session on the grid,
     * so a misbehaving or hostile charger cannot book a site's power connector id after connector id.
     */
    OCPP_MAX_TRANSACTIONS: z.coerce.number().int().min(1).max(1000).default(16),
    /**
     * A charger that rejects a power limit or does not answer is counted at its maximum and sent nothing for
     * this long, doubled on each further failure up to OCPP_PROFILE_BACKOFF_MAX_MS: a charger that cannot
     * take limits is not sent every re-share.
     */
    OCPP_PROFILE_BACKOFF_MS: positiveMsSchema.default(1000),
    OCPP_PROFILE_BACKOFF_MAX_MS: positiveMsSchema.default(300_000),
    /** Connected charge points at most; more are refused at the upgrade (HTTP 503). */
    OCPP_MAX_CHARGERS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    /** A charger sending this many malformed or invalid messages is disconnected. */
    OCPP_MAX_BAD_MESSAGES: z.coerce.number().int().min(1).max(1_000_000).default(20),
    /**
     * Messages one charger's connection may send a second on average, in bursts of OCPP_MESSAGE_BURST; a
     * flood past them closes the connection (1008). A charger sends a few a minute, and a burst at boot.
     */
    OCPP_MESSAGES_PER_S: z.coerce.number().positive().max(1_000_000).default(20),
    OCPP_MESSAGE_BURST: z.coerce.number().int().min(1).max(10_000_000).default(200),
    /**
     * Failed logins (HTTP Basic at the upgrade) allowed per charge point id + address before that pair is
     * locked out (HTTP 429) for OCPP_AUTH_LOCKOUT_MS, doubled per further failure up to OCPP_AUTH_LOCKOUT_MAX_MS.
     */
    OCPP_AUTH_PAIR_FAILURES: z.coerce.number().int().min(1).max(100_000).default(5),
    /** ...per address, any id (a guesser trying many ids); ids that logged in from it before are exempt. */
    OCPP_AUTH_ADDRESS_FAILURES: z.coerce.number().int().min(1).max(100_000).default(20),
    /**
     * ...per id, any address (guessing spread over many addresses). It locks only addresses that failed for
     * that id themselves: a real charger, which never fails, cannot be locked out by a guesser elsewhere.
     */
    OCPP_AUTH_ID_FAILURES: z.coerce.number().int().min(1).max(100_000).default(10),
    /** The first lockout, doubled per further failure: short, so a mistyped password costs a second. */
    OCPP_AUTH_LOCKOUT_MS: positiveMsSchema.default(1000),
    /**
     * The longest lockout: a guesser sharing the real charger's address (a NAT) delays its reconnect by at
     * most this long after the last guess. Failure counts are forgotten after this long without a failure.
     */
    OCPP_AUTH_LOCKOUT_MAX_MS: positiveMsSchema.default(60_000),
    /** Ids, addresses and pairs whose failures are tracked at most (oldest forgotten first): bounded memory. */
    OCPP_AUTH_TRACKED: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
    /** argon2id verifications at once: each takes a core for ~40 ms, so a flood cannot take every core. */
    OCPP_AUTH_VERIFY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    /**
     * argon2id cost of stored passwords (memory in KiB, passes): OWASP's minimum by default. Lower only
     * for benchmarks and tests that register thousands of chargers; hashes keep their own cost, so a
     * change applies to passwords registered after it.
     */
    OCPP_ARGON2_MEMORY_KIB: z.coerce.number().int().min(64).max(4_194_304).default(19_456),
    OCPP_ARGON2_TIME_COST: z.coerce.number().int().min(1).max(100).default(2),
    /** Logins waiting for a verification at most; more are refused at once (HTTP 503) rather than queued. */
    OCPP_AUTH_VERIFY_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
    /**
     * A login waits at most this long for its verification to start, then is refused (503) and the charger
     * retries: with the queue bounded, no flood delays a connect beyond this plus one verification.
     */
    OCPP_AUTH_VERIFY_WAIT_MS: positiveMsSchema.default(2000),
    /**
     * Verifications running or waiting per address at most, so one address cannot fill the queue. Chargers
     * behind one NAT that all reconnect at once past this get 503 and retry with their back-off.
     */
    OCPP_AUTH_VERIFY_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(16),
    /**
     * Reverse proxies of our own in front of OCPP_PORT, as CIDRs (as TRUST_PROXY): the charger's address is
     * the right-most X-Forwarded-For entry that is not one of them.
     */
    OCPP_TRUST_PROXY: trustProxySchema,
  })
  .transform((env) => ({
    ...env,
    BALANCER_URLS: balancerUrlsOf(env),
    argon2: { memoryKib: env.OCPP_ARGON2_MEMORY_KIB, timeCost: env.OCPP_ARGON2_TIME_COST },
    ocppAuth: {
      pairFailures: env.OCPP_AUTH_PAIR_FAILURES,
      addressFailures: env.OCPP_AUTH_ADDRESS_FAILURES,
      idFailures: env.OCPP_AUTH_ID_FAILURES,
      lockoutMs: env.OCPP_AUTH_LOCKOUT_MS,
      lockoutMaxMs: Math.max(env.OCPP_AUTH_LOCKOUT_MAX_MS, env.OCPP_AUTH_LOCKOUT_MS),
      maxTracked: env.OCPP_AUTH_TRACKED,
      verifyConcurrency: env.OCPP_AUTH_VERIFY_CONCURRENCY,
      verifyQueue: env.OCPP_AUTH_VERIFY_QUEUE,
      verifyWaitMs: env.OCPP_AUTH_VERIFY_WAIT_MS,
      verifyPerAddress: env.OCPP_AUTH_VERIFY_PER_ADDRESS,
    } satisfies AuthOptions,
  }));

export type GatewayEnv = z.output<typeof schema>;
/** The schema itself (the Kubernetes manifests are checked against it). */
export const envSchema = schema;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("ocpp-gateway", schema, env);

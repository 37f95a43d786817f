import {
  balancerUrlsOf,
  balancerUrlsShape,
  commonEnvShape,
  loadEnv,
  portSchema,
  positiveMsSchema,
} from "@evgrid/kit";
import { z } from "zod";

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
     * A meter that says nothing for this long counts as drawing nothing, so reclaim gives its power to the
     * others (a charger configured to never send MeterValues keeps only its minimum).
     */
    OCPP_METER_SILENT_S: seconds.default(300),
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
    /** Connected charge points at most; more are refused at the upgrade (HTTP 503). */
    OCPP_MAX_CHARGERS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    /** A charger sending this many malformed or invalid messages is disconnected. */
    OCPP_MAX_BAD_MESSAGES: z.coerce.number().int().min(1).max(1_000_000).default(20),
  })
  .transform((env) => ({
    ...env,
    BALANCER_URLS: balancerUrlsOf(env),
  }));

export type GatewayEnv = z.output<typeof schema>;
/** The schema itself (the Kubernetes manifests are checked against it). */
export const envSchema = schema;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("ocpp-gateway", schema, env);

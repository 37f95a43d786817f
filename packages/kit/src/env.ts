import { telemetryEnvShape } from "@evgrid/telemetry";
import { z } from "zod";

/** A TCP port; 0 asks the OS for a free one (tests). */
export const portSchema = z.coerce.number().int().min(0).max(65535);
export const hostSchema = z.string().min(1).default("127.0.0.1");
export const httpUrlSchema = z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" });
export const positiveMsSchema = z.coerce.number().int().positive().max(600_000);

/** Settings every app reads. */
export const commonEnvShape = {
  HOST: hostSchema,
  /** Silences info logs (tests). */
  LOG_QUIET: z.stringbool().default(false),
  /**
   * `json` (default): one JSON object a line with trace_id/span_id, for log collectors; `pretty`:
   * `level message key=value`, for people (`bun run dev` sets it unless you do).
   */
  LOG_FORMAT: z.enum(["json", "pretty"]).default("json"),
  /** Set by `bun run dev`: exit when that process is gone, so a killed runner leaves no orphans. */
  PARENT_PID: z.coerce.number().int().positive().optional(),
  /** Shared secret of the grid's services: internal and admin procedures require it as a bearer token. */
  SERVICE_TOKEN: z
    .string({
      error: "SERVICE_TOKEN is required: a shared secret of 16+ characters (bun run dev makes one per run)",
    })
    .min(16, "SERVICE_TOKEN must be at least 16 characters"),
  /**
   * How this app calls the next one: `ws`, one persistent WebSocket link per peer with every call
   * multiplexed on it (tRPC's WebSocket protocol), or `http`, one request per call. /trpc over HTTP is
   * served either way.
   */
  INTERNAL_TRANSPORT: z.enum(["ws", "http"]).default("ws"),
  /** If set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>` (give Prometheus the same). */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  ...telemetryEnvShape,
};

/** A comma-separated list of URLs, e.g. SUBSTATION_URLS. */
export const urlListSchema = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((u) => u.trim())
      .filter((u) => u.length > 0),
  )
  .pipe(z.array(httpUrlSchema));

/**
 * Where the balancer replicas are, for their callers (the charge-api, the OCPP gateway): BALANCER_URLS,
 * comma-separated, or BALANCER_URL for one (older set-ups). `balancerUrlsOf` picks, with the default.
 */
export const balancerUrlsShape = {
  BALANCER_URLS: urlListSchema.optional(),
  BALANCER_URL: httpUrlSchema.optional(),
};

export function balancerUrlsOf(env: {
  BALANCER_URLS?: string[] | undefined;
  BALANCER_URL?: string | undefined;
}) {
  return env.BALANCER_URLS && env.BALANCER_URLS.length > 0
    ? env.BALANCER_URLS
    : [env.BALANCER_URL ?? "http://127.0.0.1:8081"];
}

/**
 * Validates the environment once at start. On failure prints every wrong variable with the reason and
 * exits 2, so a typo in a port never turns into a confusing crash later.
 */
export function loadEnv<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  console.error(`${service}: invalid configuration\n${lines.join("\n")}`);
  process.exit(2);
}

/**
 * Quota settings (charge-api and balancer) high enough never to bind: for load tests, benchmarks and tests
 * of other behaviour, which send thousands of requests from one address. `bun run dev --no-quotas` uses it.
 */
export const UNLIMITED_QUOTAS: Readonly<Record<string, string>> = {
  QUOTA_RPS: "1000000",
  QUOTA_BURST: "1000000",
  QUOTA_ACTIVE_SESSIONS: "10000000",
  QUOTA_GRID_SHARE: "1",
  QUOTA_WAITING: "1000000",
  WAIT_QUEUE_MAX: "1000000",
};

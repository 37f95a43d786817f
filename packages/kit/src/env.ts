import { telemetryEnvShape } from "@evgrid/telemetry";
import { z } from "zod";
import { TrustedProxies } from "./address.ts";
import { DEFAULT_MAX_BATCH_CALLS } from "./limits.ts";
import { serviceTokenProblem } from "./secrets.ts";

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
  /**
   * Shared secret of the grid's services: internal and admin procedures require it as a bearer token, and
   * session secrets are HMACs under it. 32+ characters and not one published in the repo (secrets.ts),
   * checked by loadEnv and launchApp unless EVGRID_INSECURE_DEMO.
   */
  SERVICE_TOKEN: z.string({
    error: "SERVICE_TOKEN is required: a shared secret of 32+ characters (bun run dev makes one per run)",
  }),
  /** Accepts a short or published SERVICE_TOKEN, loudly (start-up warning, /healthz): demos only. */
  EVGRID_INSECURE_DEMO: z.stringbool().default(false),
  /**
   * How this app calls the next one: `ws`, one persistent WebSocket link per peer with every call
   * multiplexed on it (tRPC's WebSocket protocol), or `http`, one request per call. /trpc over HTTP is
   * served either way.
   */
  INTERNAL_TRANSPORT: z.enum(["ws", "http"]).default("ws"),
  /**
   * An internal link (WebSocket) opened without the token must send it (connectionParams) within this, or
   * is closed: an unauthenticated socket must not hold a file descriptor for the idle timeout.
   */
  LINK_AUTH_TIMEOUT_MS: positiveMsSchema.default(5000),
  /**
   * Links one address may hold open before they show the token: our peers send it at once (or in the
   * upgrade), so only a flood of strangers reaches this and gets 429.
   */
  LINK_MAX_PENDING_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(16),
  /**
   * Calls one HTTP request may carry as a tRPC batch (`?batch=1`); more is 413 PAYLOAD_TOO_LARGE, unrun.
   * Calls to procedures that do not exist cost no quota, so this is what bounds what one request costs.
   */
  MAX_BATCH_CALLS: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_BATCH_CALLS),
  /** If set, GET /metrics requires `Authorization: Bearer <METRICS_TOKEN>` (give Prometheus the same). */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  ...telemetryEnvShape,
};

/**
 * TRUST_PROXY / OCPP_TRUST_PROXY: the reverse proxies of our own whose X-Forwarded-For is believed, as
 * comma-separated CIDRs (`10.0.0.0/8,127.0.0.1/32`). Unset, empty, `0` or `false`: none. The old form, a
 * count (`1`, `true`), is refused, not mapped: it believed whoever sent the header, the very hole it named.
 */
export const trustProxySchema = z
  .string()
  .default("")
  .transform((raw, ctx) => {
    const value = raw.trim();
    if (value === "" || value === "0" || value === "false") return TrustedProxies.none;
    if (/^(\d+|true)$/.test(value)) {
      ctx.addIssue({
        code: "custom",
        message: `now names the trusted proxies as CIDRs, e.g. 10.0.0.0/8,127.0.0.1/32 (a count such as "${value}" trusted any client's X-Forwarded-For)`,
      });
      return z.NEVER;
    }
    try {
      return new TrustedProxies(value.split(",").filter((c) => c.trim() !== ""));
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `${(err as Error).message}; e.g. 10.0.0.0/8,127.0.0.1/32` });
      return z.NEVER;
    }
  });

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
  const lines = parsed.success
    ? tokenIssues(parsed.data)
    : parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
  if (parsed.success && lines.length === 0) return parsed.data;
  console.error(`${service}: invalid configuration\n${lines.join("\n")}`);
  process.exit(2);
}

/** A weak SERVICE_TOKEN, unless the operator said EVGRID_INSECURE_DEMO: as a line of loadEnv's report. */
function tokenIssues(env: unknown): string[] {
  const { SERVICE_TOKEN, EVGRID_INSECURE_DEMO } = env as {
    SERVICE_TOKEN?: unknown;
    EVGRID_INSECURE_DEMO?: unknown;
  };
  if (typeof SERVICE_TOKEN !== "string" || EVGRID_INSECURE_DEMO === true) return [];
  const problem = serviceTokenProblem(SERVICE_TOKEN);
  return problem ? [`  SERVICE_TOKEN: ${problem} (or EVGRID_INSECURE_DEMO=1 for a demo)`] : [];
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

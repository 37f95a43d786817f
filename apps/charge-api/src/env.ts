import { type Priority, priorityClassSchema } from "@evgrid/contract";
import {
  apiKeyOwner,
  balancerUrlsOf,
  balancerUrlsShape,
  commonEnvShape,
  loadEnv,
  portSchema,
  positiveMsSchema,
  trustProxySchema,
} from "@evgrid/kit";
import { z } from "zod";

const schema = z
  .object({
    ...commonEnvShape,
    PORT: portSchema.default(8080),
    /**
     * Balancer replicas (BALANCER_URLS, comma-separated; or BALANCER_URL): calls are spread over the healthy
     * ones, a replica that refuses connections is skipped. Default: http://127.0.0.1:8081.
     */
    ...balancerUrlsShape,
    /** Must exceed the balancer's DISPATCH_DEADLINE_MS so its typed answer arrives before we give up. */
    CALL_TIMEOUT_MS: positiveMsSchema.default(5000),
    /**
     * Comma-separated API keys the public API requires (16+ characters each); unset: open to anyone. A key
     * may carry the highest priority class its holder may ask for, `key=fleet` or `key=emergency`;
     * without one, `standard`.
     */
    API_KEYS: z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((k) => k.trim())
          .filter((k) => k.length > 0)
          .map((entry) => {
            const at = entry.lastIndexOf("=");
            return at < 0
              ? { key: entry, priority: "standard" }
              : { key: entry.slice(0, at), priority: entry.slice(at + 1) };
          }),
      )
      .pipe(
        z.array(
          z.object({
            key: z.string().min(16, "each API key must be at least 16 characters"),
            priority: priorityClassSchema,
          }),
        ),
      )
      .default([]),
    /**
     * The reverse proxies of our own in front of this app, as CIDRs (`10.0.0.0/8,127.0.0.1/32`): a request
     * from one of them is keyed by the right-most X-Forwarded-For address that is not one of them. Unset:
     * X-Forwarded-For is ignored (any client can write it).
     */
    TRUST_PROXY: trustProxySchema,
    /** Requests per second per caller (API key, or address in open mode), and the burst allowed. */
    QUOTA_RPS: z.coerce.number().positive().max(1_000_000).default(50),
    QUOTA_BURST: z.coerce.number().int().min(1).max(1_000_000).default(100),
    /** Sessions one caller may watch at once (watchSession streams), and all callers together. */
    QUOTA_WATCHERS: z.coerce.number().int().min(0).max(1_000_000).default(100),
    MAX_WATCHERS: z.coerce.number().int().min(0).max(1_000_000).default(5000),
    /**
     * Requests waiting for capacity (waitS) this app holds open at once. Unset: 1,000 over a link; over
     * HTTP (each waiting call holds a connection) half of Bun's fetch limit.
     */
    MAX_WAITING: z.coerce.number().int().min(0).max(1_000_000).optional(),
    /**
     * Bun's own limit on outgoing fetch calls in flight (read, not set, here). Each waiting request holds a
     * call to the balancer, so waiting is capped below it: everything else always has room.
     */
    BUN_CONFIG_MAX_HTTP_REQUESTS: z.coerce.number().int().positive().default(256),
  })
  .transform((env) => ({
    ...env,
    API_KEYS: env.API_KEYS.map((k) => k.key),
    /** The highest class each key's holder may ask for, by its owner id. */
    API_KEY_PRIORITIES: Object.fromEntries(
      env.API_KEYS.map((k) => [apiKeyOwner(k.key), k.priority]),
    ) as Record<string, Priority>,
    BALANCER_URLS: balancerUrlsOf(env),
    MAX_WAITING:
      env.MAX_WAITING ??
      (env.INTERNAL_TRANSPORT === "ws" ? 1000 : Math.floor(env.BUN_CONFIG_MAX_HTTP_REQUESTS / 2)),
  }))
  .refine((env) => env.INTERNAL_TRANSPORT === "ws" || env.MAX_WAITING < env.BUN_CONFIG_MAX_HTTP_REQUESTS, {
    path: ["MAX_WAITING"],
    message:
      "MAX_WAITING must stay below BUN_CONFIG_MAX_HTTP_REQUESTS, or waiting requests starve all others",
  });

export type ChargeApiEnv = z.output<typeof schema>;
/** The schema itself (the Kubernetes manifests are checked against it). */
export const envSchema = schema;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("charge-api", schema, env);

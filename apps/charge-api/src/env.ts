import { commonEnvShape, httpUrlSchema, loadEnv, portSchema, positiveMsSchema } from "@evgrid/kit";
import { z } from "zod";

const schema = z.object({
  ...commonEnvShape,
  PORT: portSchema.default(8080),
  BALANCER_URL: httpUrlSchema.default("http://127.0.0.1:8081"),
  /** Must exceed the balancer's DISPATCH_DEADLINE_MS so its typed answer arrives before we give up. */
  CALL_TIMEOUT_MS: positiveMsSchema.default(5000),
  /** Comma-separated API keys the public API requires (16+ characters each); unset: open to anyone. */
  API_KEYS: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k.length > 0),
    )
    .pipe(z.array(z.string().min(16, "each API key must be at least 16 characters")))
    .default([]),
});

export type ChargeApiEnv = z.output<typeof schema>;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("charge-api", schema, env);

import { commonEnvShape, httpUrlSchema, loadEnv, portSchema, positiveMsSchema } from "@evgrid/kit";
import { z } from "zod";

const schema = z.object({
  ...commonEnvShape,
  PORT: portSchema.default(8080),
  BALANCER_URL: httpUrlSchema.default("http://127.0.0.1:8081"),
  /** Must exceed the balancer's DISPATCH_DEADLINE_MS so its typed answer arrives before we give up. */
  CALL_TIMEOUT_MS: positiveMsSchema.default(5000),
});

export type ChargeApiEnv = z.output<typeof schema>;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("charge-api", schema, env);

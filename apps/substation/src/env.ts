import { substationIdSchema } from "@evgrid/contract";
import { commonEnvShape, loadEnv, portSchema } from "@evgrid/kit";
import { z } from "zod";

const schema = z.object({
  SUBSTATION_ID: substationIdSchema.default("substation-1"),
  SUBSTATION_CAPACITY_KW: z.coerce.number().positive().max(1_000_000).default(150),
  /** Optional operator limit at start, in kW. */
  SUBSTATION_LIMIT_KW: z.coerce.number().nonnegative().max(1_000_000).optional(),
  ...commonEnvShape,
  PORT: portSchema.default(8101),
  /** The session journal (SQLite, WAL); ":memory:" keeps nothing across restarts. Default data/<id>.sqlite. */
  SUBSTATION_DB_PATH: z.string().min(1).optional(),
});

export type SubstationEnv = z.output<typeof schema>;
export const readEnv = (env?: Record<string, string | undefined>) => loadEnv("substation", schema, env);

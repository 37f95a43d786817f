import { z } from "zod";

export const DEFAULT_CAPACITY_KW = 150;

const port = z.coerce.number().int().min(1).max(65535);
const capacityList = z
  .string()
  .transform((s) => s.split(",").map((x) => (x.trim() === "" ? Number.NaN : Number(x))))
  .pipe(z.array(z.number("each capacity must be a number of kW").positive().max(1_000_000)).min(1));

/** Flags win over environment variables, which win over defaults. */
export const devOptionsSchema = z
  .object({
    substations: z.coerce.number().int().min(1).max(64).optional(),
    capacitiesKw: capacityList.optional(),
    host: z.string().min(1).default("127.0.0.1"),
    chargeApiPort: port.default(8080),
    balancerPort: port.default(8081),
    /** Substation i listens on base + i. */
    substationBasePort: port.default(8100),
    /** Every app on a free port picked by the OS (tests, or a second copy next to a running one). */
    randomPorts: z.boolean().default(false),
    /** An app that exits leaves the others running (to watch the balancer route around it). */
    keepGoing: z.boolean().default(false),
    /** Per-caller quotas off: load tests send everything from one address. */
    noQuotas: z.boolean().default(false),
    /** Where substations keep their session journals; sessions survive a restart of `bun run dev`. */
    dataDir: z.string().min(1).default(".evgrid/data"),
  })
  .superRefine((o, ctx) => {
    const list = o.capacitiesKw ?? [];
    if (o.substations !== undefined && list.length > 1 && list.length !== o.substations) {
      ctx.addIssue({
        code: "custom",
        path: ["capacitiesKw"],
        message: `${list.length} capacities given for ${o.substations} substations; give one (used for all) or one each`,
      });
    }
  });
export type DevOptions = z.output<typeof devOptionsSchema>;

export interface SubstationSpec {
  id: string;
  capacityKw: number;
  port: number;
}

export function planSubstations(o: DevOptions): SubstationSpec[] {
  const list = o.capacitiesKw ?? [DEFAULT_CAPACITY_KW];
  const count = o.substations ?? (list.length > 1 ? list.length : 2);
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    return {
      id: `substation-${i}`,
      capacityKw: list.length === 1 ? (list[0] as number) : (list[k] as number),
      port: o.randomPorts ? 0 : o.substationBasePort + i,
    };
  });
}

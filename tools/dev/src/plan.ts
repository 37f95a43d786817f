import { z } from "zod";

export const DEFAULT_CAPACITY_KW = 150;

const port = z.coerce.number().int().min(1).max(65535);
const capacityList = z
  .string()
  .transform((s) => s.split(",").map((x) => (x.trim() === "" ? Number.NaN : Number(x))))
  .pipe(
    z
      .array(
        z
          .number("each capacity must be a number of kW")
          .positive("each capacity must be above 0 kW")
          .max(1_000_000, "each capacity must be at most 1000000 kW"),
      )
      .min(1),
  );
/** A switch given as a flag (true) or by an environment variable ("true"/"false"). */
const flag = z.union([z.boolean(), z.stringbool()]).default(false);

/**
 * `bun run dev`'s options, keyed as the flags are spelled (an issue at `capacities` is reported as
 * `--capacities`). Flags win over environment variables (see main.ts), which win over defaults.
 */
export const devOptionsSchema = z
  .object({
    substations: z.coerce.number().int().min(1).max(512).optional(),
    /** Substations per OS process; default: one each up to 8, then spread over 8 processes. */
    "substations-per-process": z.coerce.number().int().min(1).max(512).optional(),
    capacities: capacityList.optional(),
    host: z.string().min(1).default("127.0.0.1"),
    "charge-api-port": port.default(8080),
    "balancer-port": port.default(8081),
    /** Balancer replicas (ports balancer-port, +1, ...); more than one needs shared state (--redis). */
    balancers: z.coerce.number().int().min(1).max(8).default(1),
    /** A local redis-server on a free port, shared by the balancers (or REDIS_URL, if set, is used). */
    redis: flag,
    /** The OCPP gateway: charge points connect to ws://HOST:<ocpp-port>/ocpp/<id>; admin on gateway-port. */
    "ocpp-port": port.default(8180),
    "gateway-port": port.default(8181),
    /** Demo charge points registered per substation (ids and passwords printed). */
    chargers: z.coerce.number().int().min(0).max(1000).default(0),
    /** Substation i listens on base + i. */
    "substation-base-port": port.default(8100),
    /** Every app on a free port picked by the OS (tests, or a second copy next to a running one). */
    "random-ports": flag,
    /** An app that exits leaves the others running (to watch the balancer route around it). */
    "keep-going": flag,
    /** Per-caller quotas off: load tests send everything from one address. */
    "no-quotas": flag,
    /** Where substations keep their session journals; sessions survive a restart of `bun run dev`. */
    "data-dir": z.string().min(1).default(".evgrid/data"),
  })
  .superRefine((o, ctx) => {
    if (o.balancers > 1 && !o.redis) {
      ctx.addIssue({
        code: "custom",
        path: ["balancers"],
        message:
          "more than one balancer needs shared state: add --redis (a local redis-server, or REDIS_URL)",
      });
    }
    const list = o.capacities ?? [];
    const count = o.substations ?? Math.max(list.length, 2);
    // Past the other apps' ports (up to 4 + 8 replicas), the last substation's still has to exist.
    if (!o["random-ports"] && o["substation-base-port"] + count + 12 > 65535) {
      ctx.addIssue({
        code: "custom",
        path: ["substation-base-port"],
        message: `${count} substations from port ${o["substation-base-port"] + 1} run past 65535: choose a lower base`,
      });
    }
    if (o.substations !== undefined && list.length > 1 && list.length !== o.substations) {
      ctx.addIssue({
        code: "custom",
        path: ["capacities"],
        message: `${list.length} capacities given for ${o.substations} substations; give one (used for all) or one each`,
      });
    }
  })
  .transform((o) => ({
    substations: o.substations,
    substationsPerProcess: o["substations-per-process"],
    capacitiesKw: o.capacities,
    host: o.host,
    chargeApiPort: o["charge-api-port"],
    balancerPort: o["balancer-port"],
    balancers: o.balancers,
    redis: o.redis,
    ocppPort: o["ocpp-port"],
    gatewayPort: o["gateway-port"],
    chargers: o.chargers,
    substationBasePort: o["substation-base-port"],
    randomPorts: o["random-ports"],
    keepGoing: o["keep-going"],
    noQuotas: o["no-quotas"],
    dataDir: o["data-dir"],
  }));
export type DevOptions = z.output<typeof devOptionsSchema>;

export interface SubstationSpec {
  id: string;
  capacityKw: number;
  port: number;
}

/** The ports the other apps take: the charge-api, each balancer replica, the gateway's two. */
const otherPorts = (o: DevOptions) =>
  new Set([
    o.chargeApiPort,
    ...Array.from({ length: o.balancers }, (_, r) => o.balancerPort + r),
    o.ocppPort,
    o.gatewayPort,
  ]);

/**
 * Substation i listens on base + i, passing over a port another app takes (so, by default, substation-80
 * and up move past the gateway's 8180 and 8181), or on a port the OS picks with --random-ports.
 */
export function planSubstations(o: DevOptions): SubstationSpec[] {
  const list = o.capacitiesKw ?? [DEFAULT_CAPACITY_KW];
  const count = o.substations ?? (list.length > 1 ? list.length : 2);
  const taken = otherPorts(o);
  let port = o.substationBasePort;
  return Array.from({ length: count }, (_, k) => {
    do port++;
    while (taken.has(port));
    return {
      id: `substation-${k + 1}`,
      capacityKw: list.length === 1 ? (list[0] as number) : (list[k] as number),
      port: o.randomPorts ? 0 : port,
    };
  });
}

/** Substation processes `bun run dev` starts by default, however many substations: more only measures the machine. */
export const DEFAULT_SUBSTATION_PROCESSES = 8;

/** One substation process and the substations it hosts (one, or several as SUBSTATION_SITES). */
export interface SubstationHost {
  /** Its log prefix: the substation's id, or `substation-3..4` for a range. */
  name: string;
  sites: SubstationSpec[];
}

export function planHosts(o: DevOptions, substations: SubstationSpec[]): SubstationHost[] {
  const perProcess = o.substationsPerProcess ?? Math.ceil(substations.length / DEFAULT_SUBSTATION_PROCESSES);
  const hosts: SubstationHost[] = [];
  for (let k = 0; k < substations.length; k += perProcess) {
    const sites = substations.slice(k, k + perProcess);
    const first = sites[0] as SubstationSpec;
    const last = sites[sites.length - 1] as SubstationSpec;
    const name = sites.length === 1 ? first.id : `${first.id}..${last.id.replace(/^substation-/, "")}`;
    hosts.push({ name, sites });
  }
  return hosts;
}

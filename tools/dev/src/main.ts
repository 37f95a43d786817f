/**
 * `bun run dev`: the whole system on one machine, each app its own OS process.
 * Wiring only: options -> plan -> supervisor -> banner. `bun run dev --help` for flags.
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { parseCommandLine } from "@evgrid/kit/cli";
import { UNLIMITED_QUOTAS } from "@evgrid/kit/env";
import { onShutdown } from "@evgrid/kit/process";
import { redactUrl } from "@evgrid/kit/redact";
import { internalClient } from "@evgrid/link";
import type { GatewayRouter } from "@evgrid/ocpp-gateway";
import { demoLines, registerDemoChargers } from "./chargers.ts";
import { lockDataDir } from "./data-lock.ts";
import { devOptionsSchema, planHosts, planSubstations } from "./plan.ts";
import { planRedis, startRedis } from "./redis.ts";
import { Supervisor } from "./supervisor.ts";

const HELP = `Usage: bun run dev [options]

Starts N substations, the balancer, the charge-api and the OCPP gateway as separate processes, with
prefixed logs.
Ctrl-C (or SIGTERM, or closing the terminal) stops all of them.

Options (environment variable in brackets):
  --substations <n>        how many substations                 [DEV_SUBSTATIONS]     (default: 2)
  --substations-per-process <n>  substations one OS process hosts  [DEV_SUBSTATIONS_PER_PROCESS]
                           (default: one each up to 8 substations, then spread over 8 processes)
  --capacities <kW,...>    one capacity for all, or one each    [DEV_CAPACITIES_KW]   (default: 150)
  --host <addr>            address every app binds to           [DEV_HOST]            (default: 127.0.0.1)
  --charge-api-port <p>                                         [CHARGE_API_PORT]     (default: 8080)
  --balancer-port <p>                                           [BALANCER_PORT]       (default: 8081)
  --balancers <n>          balancer replicas (ports p, p+1, ...) [DEV_BALANCERS]       (default: 1)
  --redis                  state shared by the balancers in a local redis-server on a free port,
                           or in REDIS_URL if set (apt-get install -y redis-server) [DEV_REDIS=true]
  --ocpp-port <p>          charge points connect here (OCPP-J)  [OCPP_PORT]           (default: 8180)
  --gateway-port <p>       the gateway's admin tRPC             [GATEWAY_PORT]        (default: 8181)
  --chargers <k>           register k demo charge points per substation; ids and passwords are printed
                                                                [DEV_CHARGERS]        (default: 0)
  --substation-base-port <p>  substation i listens on p+i       [SUBSTATION_BASE_PORT] (default: 8100)
                           (passing over the other apps' ports: substation-80 and up past 8180-8181)
  --random-ports           let the OS pick every port           [DEV_RANDOM_PORTS=true]
  --keep-going             an app that exits does not stop the others (watch failover)
  --no-quotas              no per-caller quotas: for load tests from one address (bun run load, k6)
  --data-dir <dir>         journals and the gateway's registry  [DEV_DATA_DIR]        (default: .evgrid/data)
                           (one run each: a second copy needs its own, beside --random-ports)
  -h, --help               show this help

Examples:
  bun run dev --substations 3 --capacities 150,100,50
  curl -X POST http://127.0.0.1:8080/request_charge
  bun run client
  bun run dev --balancers 2 --redis
  bun run dev --chargers 1      then: bun run charger --id <printed id> --password <printed password>`;

const env = process.env;
const opts = parseCommandLine({
  command: "dev",
  help: HELP,
  flags: {
    substations: { type: "string" },
    "substations-per-process": { type: "string" },
    capacities: { type: "string" },
    host: { type: "string" },
    "charge-api-port": { type: "string" },
    "balancer-port": { type: "string" },
    balancers: { type: "string" },
    redis: { type: "boolean" },
    "ocpp-port": { type: "string" },
    "gateway-port": { type: "string" },
    chargers: { type: "string" },
    "substation-base-port": { type: "string" },
    "random-ports": { type: "boolean" },
    "keep-going": { type: "boolean" },
    "no-quotas": { type: "boolean" },
    "data-dir": { type: "string" },
  },
  schema: devOptionsSchema,
  // The environment variables named in the help; flags win.
  fallbacks: {
    substations: env.DEV_SUBSTATIONS,
    "substations-per-process": env.DEV_SUBSTATIONS_PER_PROCESS,
    capacities: env.DEV_CAPACITIES_KW,
    host: env.DEV_HOST,
    "charge-api-port": env.CHARGE_API_PORT,
    "balancer-port": env.BALANCER_PORT,
    balancers: env.DEV_BALANCERS,
    redis: env.DEV_REDIS,
    "ocpp-port": env.OCPP_PORT,
    "gateway-port": env.GATEWAY_PORT,
    chargers: env.DEV_CHARGERS,
    "substation-base-port": env.SUBSTATION_BASE_PORT,
    "random-ports": env.DEV_RANDOM_PORTS,
    "data-dir": env.DEV_DATA_DIR,
  },
});
const substations = planSubstations(opts);
const hosts = planHosts(opts, substations);
// Checked before anything starts: a missing redis-server is one line, not apps started then stopped.
const redisPlan = opts.redis ? planRedis() : undefined;
const root = resolve(import.meta.dir, "../../..");
const app = (name: string) => [process.execPath, resolve(root, `apps/${name}/src/main.ts`)];
const portOf = (p: number) => String(opts.randomPorts ? 0 : p);
// Children get our environment plus their own settings. Bun queues fetches past 256 in flight per process;
// the balancer and charge-api fan in every request, so they get room for bursts.
// One service token per run (or the one in the environment): internal procedures require it. A token made
// here is printed in the banner, for the developer to paste (it dies with the run; README says so); one
// from the environment is never printed: whoever set it has it.
const serviceToken = process.env.SERVICE_TOKEN ?? randomBytes(24).toString("base64url");
const tokenShown = process.env.SERVICE_TOKEN ? "$SERVICE_TOKEN" : serviceToken;
const base = {
  ...process.env,
  SERVICE_TOKEN: serviceToken,
  HOST: opts.host,
  PARENT_PID: String(process.pid),
  // Lines for people reading the terminal; LOG_FORMAT=json in the environment keeps the JSON.
  LOG_FORMAT: process.env.LOG_FORMAT ?? "pretty",
  BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? "4096",
  // mimalloc keeps freed pages instead of purging them (BENCHMARKS.md: the purge cost ~40 % of each app's CPU).
  MIMALLOC_PURGE_DELAY: process.env.MIMALLOC_PURGE_DELAY ?? "-1",
  ...(opts.noQuotas ? UNLIMITED_QUOTAS : {}),
} as Record<string, string>;

// One run per data directory (the journals are not shared); a second copy is told which --data-dir to give.
const lock = lockDataDir(resolve(opts.dataDir));
if ("heldBy" in lock) {
  console.error(
    `dev: another bun run dev (pid ${lock.heldBy}) uses ${opts.dataDir}: stop it, or give this one its own --data-dir`,
  );
  process.exit(2);
}

const supervisor = new Supervisor({
  nameWidth: Math.max(12, ...hosts.map((h) => h.name.length)),
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
});
// Ctrl-C (or SIGTERM, or SIGHUP) stops every app, newest first; a second Ctrl-C a while later kills them at once.
const shutdown = onShutdown(
  async () => {
    console.log("dev: stopping all apps ...");
    await supervisor.stop();
    lock.release();
    console.log("dev: all apps stopped");
  },
  // It also stops with whoever started it: the process PARENT_PID names (a script, as startDev does: this
  // runs in a process group of its own, out of reach of that script's Ctrl-C), else its own parent (`bun
  // run`), so a killed script or wrapper leaves no apps behind.
  {
    timeoutMs: 60_000,
    onForce: () => supervisor.killAll(),
    parentPid: Number(process.env.PARENT_PID) || process.ppid,
    // A closed terminal too: the apps stop on their own SIGHUP, and this runner must still release its
    // data directory and say so (under nohup it carries on).
    hangup: true,
  },
);
supervisor.onUnexpectedExit = (name, code) => {
  if (opts.keepGoing) {
    console.error(`dev: ${name} exited (code ${code}); the others keep running (--keep-going)`);
    return;
  }
  // An app that exits 0 was asked to stop. Ctrl-C signals every process of the terminal's group, and on a
  // busy machine an app can be gone before this runner has handled its own copy of the signal.
  if (code === 0) {
    console.log(`dev: ${name} stopped; stopping the others`);
    shutdown(0);
    return;
  }
  console.error(`dev: ${name} exited unexpectedly (code ${code}); stopping everything`);
  shutdown(1);
};

try {
  const hosted = await Promise.all(
    hosts.map(({ name, sites }) => {
      const [first] = sites as [(typeof sites)[number]];
      const own: Record<string, string> =
        sites.length === 1
          ? { SUBSTATION_ID: first.id, SUBSTATION_CAPACITY_KW: String(first.capacityKw) }
          : { SUBSTATION_SITES: sites.map((s) => `${s.id}=${s.capacityKw}`).join(",") };
      return supervisor.startListening(
        name,
        app("substation"),
        { ...base, ...own, SUBSTATION_DATA_DIR: resolve(opts.dataDir), PORT: portOf(first.port) },
        sites.length,
      );
    }),
  );
  const substationUrls = hosted.flat();
  const redisUrl = redisPlan && (await startRedis(supervisor, redisPlan, opts.host, resolve(opts.dataDir)));
  const balancerUrls: string[] = [];
  for (let i = 0; i < opts.balancers; i++) {
    const name = opts.balancers === 1 ? "balancer" : `balancer-${i + 1}`;
    balancerUrls.push(
      await supervisor.start(name, app("balancer"), {
        ...base,
        PORT: portOf(opts.balancerPort + i),
        SUBSTATION_URLS: substationUrls.join(","),
        ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      }),
    );
  }
  const apiUrl = await supervisor.start("charge-api", app("charge-api"), {
    ...base,
    PORT: portOf(opts.chargeApiPort),
    BALANCER_URLS: balancerUrls.join(","),
  });
  const gatewayUrl = await supervisor.start("ocpp-gateway", app("ocpp-gateway"), {
    ...base,
    PORT: portOf(opts.gatewayPort),
    OCPP_PORT: portOf(opts.ocppPort),
    BALANCER_URLS: balancerUrls.join(","),
    OCPP_DB_PATH: resolve(opts.dataDir, "ocpp-gateway.sqlite"),
  });
  const gateway = internalClient<GatewayRouter>(gatewayUrl, { timeoutMs: 10_000, token: serviceToken });
  const { ocppUrl } = await gateway.gatewayInfo.query();
  const demo = await registerDemoChargers(gateway, substations, opts.chargers);

  const width = Math.max(12, ...substations.map((s) => s.id.length + 2));
  const row = (name: string, url: string, note: string) => `  ${name.padEnd(width)}${url.padEnd(26)}${note}`;
  console.log(
    [
      "",
      "evgrid is running. Ctrl-C stops everything.",
      row("charge-api", apiUrl, "public: POST /request_charge, /trpc/requestCharge, /trpc/gridStatus"),
      ...balancerUrls.map((url, i) =>
        row(
          balancerUrls.length === 1 ? "balancer" : `balancer-${i + 1}`,
          url,
          `internal: /trpc/dispatch, /trpc/listSubstations${redisUrl ? `; state in ${redactUrl(redisUrl)}` : ""}`,
        ),
      ),
      ...substations.map((s, i) => row(s.id, substationUrls[i] ?? "", `${s.capacityKw} kW, /trpc/getLoad`)),
      row("ocpp-gateway", gatewayUrl, `admin: /trpc/listChargePoints; charge points: ${ocppUrl}/<id>`),
      "  every app also serves GET /livez, GET /readyz, GET /healthz and GET /metrics",
      `  internal procedures (balancer, substations) need: Authorization: Bearer ${tokenShown}`,
      "",
      `  try: curl -X POST ${apiUrl}/request_charge`,
      `       bun run client${apiUrl === "http://127.0.0.1:8080" ? "" : ` --url ${apiUrl}`}`,
      ...demoLines(demo, ocppUrl),
      "",
    ].join("\n"),
  );
} catch (err) {
  // Stopped during start-up (Ctrl-C, SIGTERM): a start cut short is that stop's doing, not a second signal
  // (which would kill every app at once).
  if (!supervisor.stopping) {
    console.error(`dev: ${(err as Error).message}; stopping`);
    shutdown(1);
  }
}

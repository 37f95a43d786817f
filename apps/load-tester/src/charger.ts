/**
 * `bun run charger`: a simulated charge point (the tests' own, speaking strict OCPP-J) connected to the OCPP
 * gateway. It boots, plugs a vehicle in, prints every power limit the grid sends it, reports its meter, and
 * ends the transaction on Ctrl-C, after --duration-s, or when the grid asks it to stop.
 */
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { onShutdown } from "@evgrid/kit/process";
import { SimulatedChargePoint } from "@evgrid/testing/charge-point";
import { z } from "zod";

const HELP = `Usage: bun run charger --id <chargePointId> --password <password> [options]

Connects one simulated charge point to the OCPP gateway and charges one vehicle on it.
Register the charge point first (bun run dev --chargers 2 prints ready-made ones).

Options:
  --url <ws-url>         the gateway's OCPP endpoint    (default: $OCPP_URL or ws://127.0.0.1:8180/ocpp)
  --id <id>              charge point id (Basic auth user)
  --password <pw>        its password                   (default: $OCPP_PASSWORD)
  --protocol <p>         ocpp1.6 or ocpp2.0.1           (default: ocpp1.6)
  --id-tag <tag>         the idTag / idToken presented: a booking's idTag (requestCharge answers it
                         to the booking's owner) claims that booking here; any other is a walk-in
                         (default: ev-<pid>)
  --vehicle <tag>        the same as --id-tag (its older name)
  --connector <n>        connector (1.6) / EVSE (2.0.1)  (default: 1)
  --draw-kw <kW>         what the vehicle draws at most; below its limit it draws this (default: draws its limit)
  --meter-every-s <s>    seconds between MeterValues    (default: 5)
  --duration-s <s>       stop the transaction after this (default: until Ctrl-C or the grid stops it)
  -h, --help             show this help

Example:
  bun run charger --id cp-substation-1-1 --password <printed by bun run dev --chargers 1> --id-tag <idTag>`;

const flags = parseCommandLine({
  command: "charger",
  help: HELP,
  flags: {
    url: { type: "string" },
    id: { type: "string" },
    password: { type: "string" },
    protocol: { type: "string" },
    "id-tag": { type: "string" },
    vehicle: { type: "string" },
    connector: { type: "string" },
    "draw-kw": { type: "string" },
    "meter-every-s": { type: "string" },
    "duration-s": { type: "string" },
  },
  schema: z.object({
    url: z
      .string()
      .regex(/^wss?:\/\//, "must be a ws:// or wss:// URL")
      .default("ws://127.0.0.1:8180/ocpp"),
    id: z.string({ error: "is required" }).min(1),
    password: z.string({ error: "is required (or set OCPP_PASSWORD)" }).min(1),
    protocol: z.enum(["ocpp1.6", "ocpp2.0.1"]).default("ocpp1.6"),
    "id-tag": z.string().min(1).max(36).optional(),
    vehicle: z.string().min(1).max(36).optional(),
    connector: numberFlag(1, { integer: true }).default(1),
    "draw-kw": numberFlag(0).optional(),
    "meter-every-s": numberFlag(0.1).default(5),
    "duration-s": numberFlag(0).optional(),
  }),
  fallbacks: { url: process.env.OCPP_URL, password: process.env.OCPP_PASSWORD },
});

const idTag = flags["id-tag"] ?? flags.vehicle ?? `ev-${process.pid}`;
const log = (msg: string) => console.log(`${new Date().toISOString().slice(11, 23)}  ${flags.id}  ${msg}`);
const cp = new SimulatedChargePoint({
  url: flags.url,
  id: flags.id,
  password: flags.password,
  protocol: flags.protocol,
  // Every limit as the charger takes it, the first included: watching for "the next" one after the
  // transaction started could miss a first limit that came in the same turn as the start's answer.
  onAccepted: (p) => {
    if (p.connectorId === connector)
      log(`power limit ${(p.watts / 1000).toFixed(2)} kW${p.watts === 0 ? " (waiting for power)" : ""}`);
  },
});
const connector = flags.connector;
let energyWh = 0;
let lastAt = Date.now();
let meterTimer: ReturnType<typeof setInterval> | undefined;
let finished = false;

/** What the vehicle draws now: its limit, or less if --draw-kw says so. */
const drawW = () => Math.min(cp.limit(connector) ?? 0, (flags["draw-kw"] ?? Number.POSITIVE_INFINITY) * 1000);

async function finish(code: number) {
  if (finished) return;
  finished = true;
  clearInterval(meterTimer);
  if (cp.transactions.has(connector)) {
    await cp.stopTransaction(connector, energyWh).catch(() => {});
    log(`transaction ended, ${(energyWh / 1000).toFixed(3)} kWh`);
  }
  await cp.close();
  process.exit(code);
}

onShutdown(() => finish(0));
cp.client.on("close", () => !finished && log("connection lost; reconnecting with back-off"));
cp.client.on("open", () => log(`connected (${flags.protocol})`));
try {
  await cp.connect();
} catch (err) {
  console.error(`charger: cannot connect to ${flags.url}/${flags.id}: ${(err as Error).message}`);
  console.error(
    "  check the id and password (HTTP 401 means one of them is wrong), and that the gateway runs",
  );
  process.exit(1);
}
await cp.status(connector, "Occupied");
const transactionId = await cp.startTransaction(connector, idTag, 0);
log(`vehicle plugged in, idTag ${idTag}: transaction ${transactionId}`);
meterTimer = setInterval(() => {
  const now = Date.now();
  energyWh += (drawW() * (now - lastAt)) / 3_600_000;
  lastAt = now;
  void cp.meter(connector, { energyWh: Math.round(energyWh), powerW: Math.round(drawW()) }).catch(() => {});
}, flags["meter-every-s"] * 1000);
const stopWatch = setInterval(() => {
  if (!finished && !cp.transactions.has(connector)) {
    clearInterval(stopWatch);
    log(`the grid stopped the transaction (${(energyWh / 1000).toFixed(3)} kWh)`);
    void finish(0);
  }
}, 200);
if (flags["duration-s"] !== undefined) setTimeout(() => void finish(0), flags["duration-s"] * 1000);

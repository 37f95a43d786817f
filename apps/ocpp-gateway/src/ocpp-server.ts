import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { clientAddress, type Logger, type TrustedProxies } from "@evgrid/kit";
import { type RateLimit, type TokenBucket, takeToken } from "@evgrid/policy";
import { type RPCClient, RPCServer } from "ocpp-rpc";
import { type AuthOptions, ChargerAuth } from "./auth.ts";
import type { Gateway } from "./gateway.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { strictValidators } from "./ocpp/validators.ts";
import type { ChargePoint, Registry } from "./registry.ts";
import { chargePointIdSchema } from "./router.ts";

export const OCPP_PROTOCOLS = ["ocpp2.0.1", "ocpp1.6"];
/** OCPP-J frames larger than this close the connection (1009): no charger message comes near it. */
export const MAX_FRAME_BYTES = 64 * 1024;

export interface OcppServerOptions {
  host: string;
  port: number;
  callTimeoutMs: number;
  maxChargers: number;
  maxBadMessages: number;
  /** Messages a connection may send (a token bucket); a flood past it is closed (1008). */
  messageRate: RateLimit;
  auth: AuthOptions;
  /** Reverse proxies of our own in front (their X-Forwarded-For names the charger's address). */
  trustedProxies: TrustedProxies;
}

/**
 * The charge points' endpoint: ws://HOST:PORT/ocpp/<chargePointId>, subprotocol ocpp1.6 or ocpp2.0.1,
 * Security Profile 1 (HTTP Basic auth on the upgrade, user = the charge point id). The OCPP-J framing and
 * the strict validation of every message against the official schemas are ocpp-rpc's (both ways, but for our
 * own SetChargingProfile requests: see validators.ts).
 */
export async function serveOcpp(
  opts: OcppServerOptions,
  registry: Registry,
  gateway: Gateway,
  metrics: GatewayMetrics,
  log: Logger,
) {
  const rpc = new RPCServer({
    protocols: OCPP_PROTOCOLS,
    strictMode: true,
    strictModeValidators: strictValidators(),
    callTimeoutMs: opts.callTimeoutMs,
    pingIntervalMs: 30_000,
    maxBadMessages: opts.maxBadMessages,
    respondWithDetailedErrors: false,
    wssOptions: { maxPayload: MAX_FRAME_BYTES },
  });

  const auth = new ChargerAuth(registry, opts.auth);
  rpc.auth(async (accept, reject, handshake) => {
    const id = handshake.identity;
    const forwarded = handshake.headers["x-forwarded-for"];
    const address = clientAddress(
      handshake.remoteAddress,
      typeof forwarded === "string" ? forwarded : null,
      opts.trustedProxies,
    );
    // The id comes from the URL: bounded here, its control characters escaped by the logger.
    const fields = { chargePointId: id.slice(0, 64), address };
    const refuse = (code: number, message: string, reason: string, quiet = false) => {
      metrics.refused(reason);
      if (!quiet) log.warn("charge point refused", { ...fields, reason });
      reject(code, message);
    };
    if (!chargePointIdSchema.safeParse(id).success) return refuse(404, "Not Found", "unknown");
    if (!OCPP_PROTOCOLS.some((p) => handshake.protocols.has(p))) {
      return refuse(400, "Offer subprotocol ocpp1.6 or ocpp2.0.1", "protocol");
    }
    const verdict = await auth.login(id, address, handshake.password);
    // Locked and busy refusals cost nothing and come in floods: counted, and logged when a lockout starts.
    if (verdict.reason === "locked") return refuse(429, "Too Many Requests", "locked", true);
    if (verdict.reason === "busy") return refuse(503, "Service Unavailable", "busy", true);
    const cp = registry.get(id);
    // Unknown id and wrong password answer alike: a stranger learns nothing about which ids exist.
    if (!verdict.ok || !cp) {
      refuse(401, "Unauthorized", cp ? "password" : "unknown");
      if (verdict.lockedMs > 0)
        log.warn("charge point login locked", { ...fields, lockedMs: verdict.lockedMs });
      return;
    }
    if (gateway.connectedCount >= opts.maxChargers) return refuse(503, "Service Unavailable", "full");
    accept({ cp } satisfies { cp: ChargePoint });
  });
  rpc.on("client", (client) => {
    closeOnBadCalls(client, opts.maxBadMessages);
    closeOnFlood(client, opts.messageRate, () =>
      log.warn("charge point sent too many messages: disconnected", { chargePointId: client.identity }),
    );
    gateway.connect((client.session as { cp: ChargePoint }).cp, client);
  });
  rpc.on("error", (err: Error) => log.warn("ocpp server error", { error: err.message }));

  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", upgrade: "websocket" });
    res.end("OCPP-J: connect a WebSocket to /ocpp/<chargePointId> with subprotocol ocpp1.6 or ocpp2.0.1\n");
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    // ocpp-rpc decodes the id outside its own error handling: a malformed %-escape would crash the process.
    if (!req.url?.startsWith("/ocpp/") || !decodablePath(req.url)) {
      metrics.refused("path");
      socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    Promise.resolve(rpc.handleUpgrade(req, socket as never, head)).catch((err: Error) => {
      log.warn("ocpp upgrade failed", { error: err.message });
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `ws://${host}:${port}/ocpp`,
    port,
    async close() {
      await rpc.close({ code: 1001, reason: "gateway stopping", force: true }).catch(() => {});
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Calls that fail their schema are bad messages too (ocpp-rpc counts only frames it cannot read): more than
 * `max` in a row, and the connection closes, as OCPP_MAX_BAD_MESSAGES says.
 */
function closeOnBadCalls(client: RPCClient, max: number): void {
  let bad = 0;
  client.on("strictValidationFailure", (e: { outbound: boolean; isCall: boolean }) => {
    if (e.outbound || !e.isCall) return;
    bad += 1;
    if (bad > max) void client.close({ code: 1002, reason: "Protocol error" }).catch(() => {});
  });
  client.on("callResult", (e: { outbound: boolean }) => {
    if (!e.outbound) bad = 0;
  });
}

/**
 * Every message a charger sends takes a token; none left, and the connection closes (1008): a flood costs
 * the gateway's one thread whatever the messages say, valid or not.
 */
const OPEN_STATE = 1; // WebSocket.OPEN, as ocpp-rpc's client.state says it

function closeOnFlood(client: RPCClient, limit: RateLimit, flooded: () => void): void {
  let bucket: TokenBucket | undefined;
  client.on("message", (e: { outbound: boolean }) => {
    if (e.outbound || client.state !== OPEN_STATE) return;
    const decision = takeToken(bucket, limit, Date.now());
    bucket = decision.bucket;
    if (decision.allowed) return;
    flooded();
    void client.close({ code: 1008, reason: "too many messages" }).catch(() => {});
  });
}

/** The path's last segment (the charge point id) is valid %-encoding. */
function decodablePath(url: string): boolean {
  try {
    decodeURIComponent(new URL(`http://localhost${url}`).pathname.split("/").pop() ?? "");
    return true;
  } catch {
    return false;
  }
}

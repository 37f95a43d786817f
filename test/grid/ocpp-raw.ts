/**
 * A charger speaking raw OCPP-J frames (what a broken or hostile one can send), and a grid with a gateway
 * and registered charge points to point it at: shared by the OCPP bad-input tests of both versions.
 */
import { randomBytes } from "node:crypto";
import { startGrid, startOcppGateway } from "@evgrid/testing";

export type Frame = unknown[];

/** What an answer was: "result", the CALLERROR's code, or "none". */
export const kind = (f: Frame | null) =>
  f === null ? "none" : f[0] === 3 ? "result" : f[0] === 4 ? String(f[2]) : "other";

/** Security Profile 1: a charger's id and password as HTTP Basic credentials. */
export const basicAuth = (id: string, password: string) =>
  `Basic ${Buffer.from(`${id}:${password}`).toString("base64")}`;

/** An OCPP 1.6 WebSocket upgrade's headers, as a charger (or an attacker) sends them over plain HTTP. */
export const upgradeHeaders = (id: string, password: string) => ({
  connection: "Upgrade",
  upgrade: "websocket",
  "sec-websocket-version": "13",
  "sec-websocket-key": randomBytes(16).toString("base64"),
  "sec-websocket-protocol": "ocpp1.6",
  authorization: basicAuth(id, password),
});

/** A charger speaking raw frames: what a broken or hostile one can send. */
export class RawCharger {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters = new Set<() => void>();
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      try {
        this.frames.push(JSON.parse(String(e.data)));
      } catch {
        this.frames.push(["unparseable", String(e.data)]);
      }
      for (const w of this.waiters) w();
    };
    ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      for (const w of this.waiters) w();
    };
  }

  static open(url: string, id: string, password: string, protocol = "ocpp1.6"): Promise<RawCharger> {
    const ws = new WebSocket(`${url}/${id}`, {
      protocols: [protocol],
      headers: { authorization: basicAuth(id, password) },
    } as never);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new RawCharger(ws));
      ws.onerror = () => reject(new Error("refused"));
    });
  }

  /** Sends a frame and waits for the answer to it (by message id), or any frame when the id is unknowable. */
  async send(frame: string | Frame, id?: string): Promise<Frame | null> {
    const before = this.frames.length;
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    // A guard against a hang, not a latency target: an answer, however slow the machine, comes first.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = this.frames.slice(before).find((f) => id === undefined || f[1] === id);
      if (found) return found;
      if (this.closed || Date.now() > deadline) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.add(() => {
          clearTimeout(t);
          r();
        });
      });
      this.waiters.clear();
    }
  }

  /**
   * Sends any frame, then a Heartbeat: the frames that came back before the Heartbeat's answer are the
   * answer to it (a CALLRESULT or CALLERROR sent to us is answered by nothing, rightly), without waiting out a
   * timeout. null: no answer.
   */
  async probe(frame: string): Promise<Frame | null> {
    const before = this.frames.length;
    this.ws.send(frame);
    const id = `probe-${randomBytes(4).toString("hex")}`;
    const hb = await this.send([2, id, "Heartbeat", {}], id);
    if (hb === null) throw new Error(`no answer to a Heartbeat after ${frame.slice(0, 200)}`);
    // Calls the gateway makes of its own (SetChargingProfile) are not answers.
    return this.frames.slice(before).find((f) => f[1] !== id && f[0] !== 2) ?? null;
  }

  call(action: string, payload: unknown, id = randomBytes(6).toString("hex")) {
    return this.send([2, id, action, payload], id);
  }
}

export const PASSWORD = "a-long-enough-password";

/** A grid of one substation (capacityKw), a gateway, and `raw` chargers registered and booted over 2.0.1. */
export async function rawGateway(env: Record<string, string> = {}, capacityKw = 40) {
  const grid = await startGrid({ capacitiesKw: [capacityKw] });
  const ocpp = await startOcppGateway(grid, env);
  return {
    grid,
    ocpp,
    /** Registers the id and opens a raw connection (booted over 2.0.1 unless `boot` is false). */
    async raw201(id: string, boot = true, cp: { maxKw?: number; connectors?: number } = {}) {
      await ocpp.admin.registerChargePoint.mutate({
        chargePointId: id,
        substationId: "substation-1",
        password: PASSWORD,
        maxKw: cp.maxKw ?? 11,
        ...(cp.connectors === undefined ? {} : { connectors: cp.connectors }),
      });
      const c = await RawCharger.open(ocpp.gateway.ocppUrl, id, PASSWORD, "ocpp2.0.1");
      if (boot) {
        await c.call("BootNotification", {
          reason: "PowerUp",
          chargingStation: { model: "raw", vendorName: "evgrid" },
        });
      }
      return c;
    },
    /** The substation's active sessions equal the sessions bound to open transactions (none lost or leaked). */
    async booksAgree() {
      const listed = await ocpp.admin.listChargePoints.query();
      const txs = listed.flatMap((cp) => cp.transactions);
      const unsettled = txs.filter((t) => t.state === "binding");
      const bound = txs.filter((t) => t.state !== "stopping" && t.sessionId !== null).map((t) => t.sessionId);
      const active = grid.substations[0]?.station.list("active", 1000).map((x) => x.sessionId) ?? [];
      return { unsettled: unsettled.length, active: new Set<string | null>(active), bound: new Set(bound) };
    },
    async [Symbol.asyncDispose]() {
      await ocpp[Symbol.asyncDispose]();
      await grid[Symbol.asyncDispose]();
    },
  };
}

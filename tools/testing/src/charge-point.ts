import { randomUUID } from "node:crypto";
import { createRPCError, RPCClient } from "ocpp-rpc";
import { type ConfigAnswer, meterValue, serveConfiguration } from "./charge-point-config.ts";

export type OcppVersion = "ocpp1.6" | "ocpp2.0.1";

export interface ChargePointOptions {
  /** The gateway's endpoint, e.g. ws://127.0.0.1:8180/ocpp (the id is appended). */
  url: string;
  id: string;
  password: string;
  protocol: OcppVersion;
  /** Reconnect with back-off when the connection drops (default true), as real chargers do. */
  reconnect?: boolean;
  /** Answer every SetChargingProfile with Rejected (tests of a misbehaving charger). */
  rejectProfiles?: boolean;
  /**
   * How it answers SetChargingProfile (default "Accepted"): "NotImplemented" is a CALLERROR, "silent" never
   * answers (the gateway times out). Only an accepted limit is in force.
   */
  profileAnswer?: "Accepted" | "Rejected" | "NotImplemented" | "silent";
  /** Before answering a SetChargingProfile (and applying it), waits this long (ms): a slow charger. */
  profileDelayMs?: () => number;
  /** Told of every profile as it takes effect (tests recording a whole history, in order). */
  onAccepted?: (p: ProfileReceived) => void;
  /** When asked to stop remotely, end the transaction at once (default true), as real chargers do. */
  stopWhenAsked?: boolean;
  /** How it answers ChangeConfiguration / SetVariables (default "Accepted", kept in `configuration`), how late. */
  configAnswer?: ConfigAnswer;
  configDelayMs?: number;
}

export interface ProfileReceived {
  /** 0 for a charge-point-wide profile (the default). */
  connectorId: number;
  transactionId: string;
  watts: number;
  /** When it took effect: when the charger accepted it. */
  atMs: number;
  purpose: string;
}

/**
 * A simulated charge point, built on ocpp-rpc's client in strict mode: every message it sends and receives is
 * validated against the official OCPP JSON schemas, so a test passing with it speaks real OCPP-J. It keeps
 * the power limits it was given and answers remote stops like a charger does.
 */
export class SimulatedChargePoint {
  readonly client: RPCClient;
  readonly profiles: ProfileReceived[] = [];
  readonly stopsAsked: string[] = [];
  /** Transactions started with no limit in force (neither a default nor a profile): what must not happen. */
  readonly startedUnlimited: number[] = [];
  /** SetChargingProfile calls received, however answered; and those received but not answered yet. */
  profileCalls = 0;
  pendingProfiles = 0;
  /** Open transactions: connector -> transaction id. */
  readonly transactions = new Map<number, string>();
  /** Settings it took (charge-point-config.ts), e.g. MeterValueSampleInterval. */
  readonly configuration = new Map<string, string>();
  private readonly listeners = new Set<(p: ProfileReceived) => void>();
  private seqNo = 0;

  constructor(readonly opts: ChargePointOptions) {
    this.client = new RPCClient({
      endpoint: opts.url,
      identity: opts.id,
      password: opts.password,
      protocols: [opts.protocol],
      strictMode: true,
      reconnect: opts.reconnect ?? true,
      callTimeoutMs: 10_000,
      backoff: { initialDelay: 200, maxDelay: 2000, factor: 2, randomisationFactor: 0.25 },
    } as ConstructorParameters<typeof RPCClient>[0]);
    this.client.handle("SetChargingProfile", async ({ params }) => this.onProfile(params ?? {}));
    serveConfiguration(this.client, this.v16, this.configuration, opts);
    const stop = async ({ params }: { params?: Record<string, unknown> }) => {
      const transactionId = String(params?.transactionId);
      this.stopsAsked.push(transactionId);
      const connector = [...this.transactions].find(([, t]) => t === transactionId)?.[0];
      if (connector === undefined) return { status: "Rejected" };
      if (this.opts.stopWhenAsked ?? true) {
        setTimeout(() => void this.stopTransaction(connector).catch(() => {}), 0);
      }
      return { status: "Accepted" };
    };
    this.client.handle(
      opts.protocol === "ocpp1.6" ? "RemoteStopTransaction" : "RequestStopTransaction",
      stop,
    );
  }

  get v16(): boolean {
    return this.opts.protocol === "ocpp1.6";
  }

  /**
   * Connects and boots. A gateway that is busy verifying other logins (503) or has this one locked out (429)
   * is tried again with back-off, as real chargers do, for about half a minute.
   */
  async connect(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.connect();
        break;
      } catch (err) {
        const status = (err as { code?: unknown }).code;
        if ((status !== 503 && status !== 429) || attempt >= 15) throw err;
        await Bun.sleep(Math.min(2000, 100 * 2 ** attempt) * (0.75 + Math.random() / 2));
      }
    }
    await this.boot();
  }

  boot(): Promise<unknown> {
    return this.client.call(
      "BootNotification",
      this.v16
        ? { chargePointVendor: "evgrid", chargePointModel: "simulator" }
        : { reason: "PowerUp", chargingStation: { vendorName: "evgrid", model: "simulator" } },
    );
  }

  status(connectorId: number, status: "Available" | "Occupied" | "Charging"): Promise<unknown> {
    return this.v16
      ? this.client.call("StatusNotification", {
          connectorId,
          errorCode: "NoError",
          status: status === "Occupied" ? "Preparing" : status,
        })
      : this.client.call("StatusNotification", {
          timestamp: new Date().toISOString(),
          connectorStatus: status === "Charging" ? "Occupied" : status,
          evseId: connectorId,
          connectorId: 1,
        });
  }

  /** A vehicle plugs in and presents its id: the transaction id the charger ends up with. */
  async startTransaction(connectorId: number, vehicleId: string, meterStartWh = 0): Promise<string> {
    if (!this.profiles.some((p) => p.purpose === "TxDefaultProfile")) this.startedUnlimited.push(connectorId);
    let transactionId: string;
    if (this.v16) {
      const res = (await this.client.call("StartTransaction", {
        connectorId,
        idTag: vehicleId,
        meterStart: Math.round(meterStartWh),
        timestamp: new Date().toISOString(),
      })) as { transactionId: number; idTagInfo: { status: string } };
      if (res.idTagInfo.status !== "Accepted") throw new Error(`StartTransaction: ${res.idTagInfo.status}`);
      transactionId = String(res.transactionId);
    } else {
      transactionId = randomUUID();
      await this.client.call("TransactionEvent", {
        eventType: "Started",
        timestamp: new Date().toISOString(),
        triggerReason: "Authorized",
        seqNo: this.seqNo++,
        transactionInfo: { transactionId, chargingState: "Charging" },
        idToken: { idToken: vehicleId, type: "Central" },
        evse: { id: connectorId, connectorId: 1 },
        meterValue: [meterValue(this.v16, { energyWh: meterStartWh })],
      });
    }
    this.transactions.set(connectorId, transactionId);
    return transactionId;
  }

  async stopTransaction(connectorId: number, meterStopWh = 0): Promise<void> {
    const transactionId = this.transactions.get(connectorId);
    if (transactionId === undefined) return;
    this.transactions.delete(connectorId);
    if (this.v16) {
      await this.client.call("StopTransaction", {
        transactionId: Number(transactionId),
        meterStop: Math.round(meterStopWh),
        timestamp: new Date().toISOString(),
        reason: "Remote",
      });
    } else {
      await this.client.call("TransactionEvent", {
        eventType: "Ended",
        timestamp: new Date().toISOString(),
        triggerReason: "RemoteStop",
        seqNo: this.seqNo++,
        transactionInfo: { transactionId, stoppedReason: "Remote" },
        evse: { id: connectorId, connectorId: 1 },
      });
    }
  }

  /** The meter: energy register (Wh) and/or the power drawn now (W). */
  meter(connectorId: number, reading: { energyWh?: number; powerW?: number }): Promise<unknown> {
    const transactionId = this.transactions.get(connectorId);
    return this.v16
      ? this.client.call("MeterValues", {
          connectorId,
          ...(transactionId === undefined ? {} : { transactionId: Number(transactionId) }),
          meterValue: [meterValue(this.v16, reading)],
        })
      : this.client.call("MeterValues", { evseId: connectorId, meterValue: [meterValue(this.v16, reading)] });
  }

  /**
   * 2.0.1 (ISO 15118): the car's needs, as an AC car reports them: energy in Wh, departure, its maximum
   * current per phase at 230 V. The charger's answer status.
   */
  async notifyEVChargingNeeds(
    connectorId: number,
    /** Without `energyWh`, as a DC car may send them (its energy is optional there). */
    needs: { energyWh?: number; departureTime?: string; evMaxCurrentA?: number },
  ): Promise<string> {
    if (this.v16) throw new Error("NotifyEVChargingNeeds is OCPP 2.0.1");
    const { energyWh: energyAmount, departureTime, evMaxCurrentA: evMaxCurrent = 32 } = needs;
    const res = (await this.client.call("NotifyEVChargingNeeds", {
      evseId: connectorId,
      chargingNeeds: {
        ...(departureTime === undefined ? {} : { departureTime }),
        ...(energyAmount === undefined
          ? { requestedEnergyTransfer: "DC", dcChargingParameters: { evMaxCurrent, evMaxVoltage: 400 } }
          : {
              requestedEnergyTransfer: "AC_three_phase",
              acChargingParameters: { energyAmount, evMinCurrent: 6, evMaxCurrent, evMaxVoltage: 230 },
            }),
      },
    })) as { status: string };
    return res.status;
  }

  /** The newest limit received for a connector (W), or undefined. */
  limit(connectorId: number): number | undefined {
    for (let i = this.profiles.length - 1; i >= 0; i--) {
      const p = this.profiles[i];
      if (p?.connectorId === connectorId) return p.watts;
    }
    return undefined;
  }

  /** Resolves with the first profile (from now on) on the connector that `match` accepts. */
  nextProfile(
    connectorId: number,
    match: (watts: number) => boolean,
    timeoutMs = 5000,
  ): Promise<ProfileReceived> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listen);
        reject(
          new Error(
            `${this.opts.id}: no matching profile in ${timeoutMs} ms (last ${this.limit(connectorId)})`,
          ),
        );
      }, timeoutMs);
      const listen = (p: ProfileReceived) => {
        if (p.connectorId !== connectorId || !match(p.watts)) return;
        clearTimeout(timer);
        this.listeners.delete(listen);
        resolve(p);
      };
      this.listeners.add(listen);
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: the library validated the payload against the OCPP schema.
  private async onProfile(params: Record<string, any>) {
    const connectorId = Number(this.v16 ? params.connectorId : params.evseId);
    const p = (this.v16 ? params.csChargingProfiles : params.chargingProfile) as {
      transactionId?: string | number;
      chargingProfilePurpose: string;
      chargingSchedule:
        | { chargingSchedulePeriod: { limit: number }[] }
        | { chargingSchedulePeriod: { limit: number }[] }[];
    };
    const schedule = Array.isArray(p.chargingSchedule) ? p.chargingSchedule[0] : p.chargingSchedule;
    const watts = schedule?.chargingSchedulePeriod[0]?.limit ?? Number.NaN;
    this.profileCalls++;
    const answer = this.opts.rejectProfiles ? "Rejected" : (this.opts.profileAnswer ?? "Accepted");
    if (answer === "silent") return new Promise<{ status: string }>(() => {});
    const delayMs = this.opts.profileDelayMs?.() ?? 0;
    this.pendingProfiles++;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    this.pendingProfiles--;
    if (answer === "NotImplemented") throw createRPCError("NotImplemented", "no smart charging here");
    if (answer === "Rejected") return { status: "Rejected" };
    const purpose = p.chargingProfilePurpose;
    const got = { connectorId, transactionId: String(p.transactionId), watts, atMs: Date.now(), purpose };
    this.profiles.push(got);
    this.opts.onAccepted?.(got);
    for (const l of [...this.listeners]) l(got);
    return { status: "Accepted" };
  }

  async close(): Promise<void> {
    await this.client.close({ force: true }).catch(() => {});
  }
}

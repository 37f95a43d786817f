import type { ChargerLink, Tx, TxState } from "./model.ts";
import type { ChargePoint } from "./registry.ts";

/** A registered charge point the gateway has seen (connected, or holding transactions through its grace). */
export interface Charger {
  cp: ChargePoint;
  link: ChargerLink | null;
  connectedAt: number | null;
  /** Connector (1.6) / EVSE (2.0.1) status as last reported. */
  connectors: Map<number, string>;
  txs: Map<string, Tx>;
  offlineTimer: ReturnType<typeof setTimeout> | null;
  /**
   * What it answered when asked at its last boot to report its meter (meter-reports.ts): "Accepted", another
   * status, "NotImplemented" or "timeout"; null if not asked (not booted here, or OCPP_METER_INTERVAL_S 0).
   */
  meterReports: string | null;
}

/** The session a transaction is bound to, if any. */
export const sessionOf = (tx: Tx): string | null =>
  tx.phase.state === "charging" || tx.phase.state === "resuming" ? tx.phase.sessionId : null;

/** The state operators see: a transaction resuming after a restart is bound, so it shows as charging. */
export const stateOf = (tx: Tx): TxState => (tx.phase.state === "resuming" ? "charging" : tx.phase.state);

/**
 * Every charger and its transactions, indexed the ways events arrive: by charge point id (OCPP messages), by
 * substation (a power event touches only that substation's chargers), by vehicle (one transaction per vehicle)
 * and by session (a session's end). Holds data only; the components decide.
 */
export class ChargerTable {
  private readonly byId = new Map<string, Charger>();
  private readonly bySubstation = new Map<string, Set<Charger>>();
  private readonly byVehicle = new Map<string, Set<Tx>>();
  private readonly bySession = new Map<string, Tx>();
  private connected = 0;
  /** The substations last handed to onSitesChanged. */
  private watched = new Set<string>();

  /**
   * `onSitesChanged`: the substations with a transaction or a connected charger changed (watch their power).
   * `onBound`: a transaction is bound to its session, with its power (charging).
   */
  constructor(
    private readonly onSitesChanged: (substationIds: Set<string>) => void = () => {},
    private readonly onBound: (tx: Tx) => void = () => {},
  ) {}

  /** Tells the watcher which substations are in use now. */
  sitesChanged(): void {
    this.watched = this.substationsInUse();
    this.onSitesChanged(this.watched);
  }

  get(chargePointId: string): Charger | undefined {
    return this.byId.get(chargePointId);
  }

  /** The charger for this charge point, made on first sight; a changed registration (site, maximum) is taken. */
  ensure(cp: ChargePoint): Charger {
    let ch = this.byId.get(cp.chargePointId);
    if (!ch) {
      ch = {
        cp,
        link: null,
        connectedAt: null,
        connectors: new Map(),
        txs: new Map(),
        offlineTimer: null,
        meterReports: null,
      };
      this.byId.set(cp.chargePointId, ch);
    } else if (ch.cp.substationId !== cp.substationId) {
      // Its transactions there stay there, and their site's levels must still reach them (a hostile-charger
      // probe: moved with a transaction open, it kept 8 kW after its old site went down to 10 for two).
      this.leaveSite(ch, ch.cp.substationId, cp.substationId);
    }
    ch.cp = cp;
    const site = this.bySubstation.get(cp.substationId) ?? new Set<Charger>();
    this.bySubstation.set(cp.substationId, site);
    site.add(ch);
    return ch;
  }

  delete(ch: Charger): void {
    this.setLink(ch, null);
    this.byId.delete(ch.cp.chargePointId);
    for (const [substationId, site] of this.bySubstation) {
      site.delete(ch);
      if (site.size === 0) this.bySubstation.delete(substationId);
    }
  }

  all(): IterableIterator<Charger> {
    return this.byId.values();
  }

  atSubstation(substationId: string): Iterable<Charger> {
    return this.bySubstation.get(substationId) ?? [];
  }

  setLink(ch: Charger, link: ChargerLink | null): void {
    if (Boolean(ch.link) !== Boolean(link)) this.connected += link ? 1 : -1;
    ch.link = link;
    ch.connectedAt = link ? Date.now() : null;
    // A connected charger's substation is watched (its levels say what is held there for draws with no
    // transaction: stray-holds.ts); only when it is not yet, so a thousand reconnecting cost one look each.
    if (link && !this.watched.has(ch.cp.substationId)) this.sitesChanged();
  }

  get connectedCount(): number {
    return this.connected;
  }

  /** Out of a site's index, unless it is its site now or it has a transaction there still. */
  private leaveSite(ch: Charger, substationId: string, current: string): void {
    if (substationId === current) return;
    for (const tx of ch.txs.values()) if (tx.substationId === substationId) return;
    const site = this.bySubstation.get(substationId);
    site?.delete(ch);
    if (site?.size === 0) this.bySubstation.delete(substationId);
  }

  /** The substations with a connected charger or an open transaction: the ones whose power is watched. */
  private substationsInUse(): Set<string> {
    const ids = new Set<string>();
    for (const [id, chargers] of this.bySubstation) {
      for (const ch of chargers) {
        if (ch.link || ch.txs.size > 0) {
          ids.add(id);
          break;
        }
      }
    }
    return ids;
  }

  /** `notify` false: many are added at once (a restore), which calls sitesChanged once at the end. */
  addTx(ch: Charger, tx: Tx, notify = true): void {
    ch.txs.set(tx.transactionId, tx);
    if (tx.vehicleId) this.indexVehicle(tx, tx.vehicleId);
    if (notify) this.sitesChanged();
  }

  removeTx(ch: Charger, tx: Tx): void {
    if (ch.txs.get(tx.transactionId) === tx) ch.txs.delete(tx.transactionId);
    this.leaveSite(ch, tx.substationId, ch.cp.substationId);
    if (tx.vehicleId) {
      const set = this.byVehicle.get(tx.vehicleId);
      set?.delete(tx);
      if (set?.size === 0) this.byVehicle.delete(tx.vehicleId);
    }
    for (const [sessionId, bound] of this.sessionsOf(tx)) if (bound === tx) this.bySession.delete(sessionId);
    this.sitesChanged();
  }

  /** The transaction is still the one its charger holds (not ended, not replaced). */
  isCurrent(tx: Tx): boolean {
    return !tx.life.signal.aborted && this.byId.get(tx.chargePointId)?.txs.get(tx.transactionId) === tx;
  }

  /** A 2.0.1 charger said who the unidentified transaction is. */
  identify(tx: Tx, vehicleId: string): void {
    tx.vehicleId = vehicleId;
    this.indexVehicle(tx, vehicleId);
  }

  /** Is this vehicle in an open transaction (other than `exceptTransactionId`) on any charger? */
  chargingVehicle(vehicleId: string, exceptTransactionId?: string): boolean {
    for (const tx of this.byVehicle.get(vehicleId) ?? []) {
      if (tx.transactionId !== exceptTransactionId && tx.phase.state !== "stopping") return true;
    }
    return false;
  }

  txOnConnector(ch: Charger, connectorId: number): Tx | undefined {
    for (const tx of ch.txs.values()) if (tx.connectorId === connectorId) return tx;
    return undefined;
  }

  bindSession(sessionId: string, tx: Tx): void {
    this.bySession.set(sessionId, tx);
    if (tx.phase.state === "charging") this.onBound(tx);
  }

  unbindSession(sessionId: string): void {
    this.bySession.delete(sessionId);
  }

  txOfSession(sessionId: string): Tx | undefined {
    return this.bySession.get(sessionId);
  }

  boundSessions(): IterableIterator<[string, Tx]> {
    return this.bySession.entries();
  }

  private sessionsOf(tx: Tx): [string, Tx][] {
    const id = sessionOf(tx);
    const bound = id === null ? undefined : this.bySession.get(id);
    return id !== null && bound ? [[id, bound]] : [];
  }

  private indexVehicle(tx: Tx, vehicleId: string): void {
    const set = this.byVehicle.get(vehicleId) ?? new Set<Tx>();
    this.byVehicle.set(vehicleId, set);
    set.add(tx);
  }
}

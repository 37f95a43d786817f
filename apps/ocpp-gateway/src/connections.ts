import type { Logger } from "@evgrid/kit";
import type { RPCClient } from "ocpp-rpc";
import type { Caps } from "./caps.ts";
import type { Charger, ChargerTable } from "./chargers.ts";
import type { Ends } from "./ends.ts";
import type { ChargerEvents, ChargerLink } from "./model.ts";
import type { Pusher } from "./pusher.ts";
import type { ChargePoint } from "./registry.ts";
import type { Transactions } from "./transactions.ts";

/** Serves one connection in its OCPP version: registers the handlers, returns what can be asked of it. */
export type ServeCharger = (client: RPCClient, chargePointId: string, events: ChargerEvents) => ChargerLink;

/**
 * Chargers coming and going: a new connection replaces an older one of the same charge point; a charger that
 * left keeps its transactions for the offline grace, and back within it, they resume with their power sent
 * again; gone past it, they end (charger_offline).
 */
export class Connections {
  constructor(
    private readonly table: ChargerTable,
    private readonly transactions: Transactions,
    private readonly ends: Ends,
    private readonly pusher: Pusher,
    private readonly caps: Caps,
    private readonly serve: ServeCharger,
    private readonly offlineGraceMs: number,
    private readonly log: Logger,
  ) {}

  /** A charger passed authentication: serve it. A second connection with the same id replaces the first. */
  connect(cp: ChargePoint, client: RPCClient): void {
    const ch = this.table.ensure(cp);
    const previous = ch.link;
    const link = this.serve(client, cp.chargePointId, this.transactions.eventsOf(ch));
    this.table.setLink(ch, link);
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    ch.offlineTimer = null;
    // A new connection (calls on the old one are lost with it). Back after a boot: its default first, then
    // its limits again. Not booted yet: nothing before the boot.
    this.pusher.offline(cp.chargePointId);
    if (cp.bootedAt !== null) void this.pusher.online(cp.chargePointId, cp.substationId);
    if (previous) void previous.close(1000, "replaced by a new connection");
    link.onClose(() => {
      if (ch.link !== link) return;
      this.table.setLink(ch, null);
      this.pusher.offline(cp.chargePointId);
      this.log.info("charge point disconnected", { chargePointId: cp.chargePointId });
      if (ch.txs.size > 0) this.startGrace(ch);
      this.pinWhileOffline(ch);
    });
    this.log.info("charge point connected", { chargePointId: cp.chargePointId, protocol: link.protocol });
    // Back within the grace period: its transactions resume, with their current power sent again.
    if (cp.bootedAt !== null) this.transactions.resend(ch);
    this.pinWhileOffline(ch);
  }

  /**
   * Gone, a charger may charge on at the limits it has: its sessions are pinned at them at the substation
   * (so the others are given what is really left, not shares break before make must hold back until the
   * grace ends); back, they follow the shares again.
   */
  private pinWhileOffline(ch: Charger): void {
    for (const tx of ch.txs.values()) void this.caps.sync(tx);
  }

  /** Its transactions end unless it is back within the grace (also for those restored after a restart). */
  startGrace(ch: Charger): void {
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    ch.offlineTimer = setTimeout(() => {
      ch.offlineTimer = null;
      if (ch.link) return;
      for (const tx of [...ch.txs.values()]) void this.ends.end(ch, tx, "charger_offline");
    }, this.offlineGraceMs);
    ch.offlineTimer.unref?.();
  }

  /** A charge point was removed: it is disconnected and its sessions end. */
  async removed(chargePointId: string): Promise<void> {
    const ch = this.table.get(chargePointId);
    if (!ch) return;
    for (const tx of [...ch.txs.values()]) await this.ends.end(ch, tx, "stopped");
    await ch.link?.close(1008, "charge point removed");
    if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
    this.table.delete(ch);
    this.pusher.drop(chargePointId);
  }

  close(): void {
    for (const ch of this.table.all()) {
      if (ch.offlineTimer) clearTimeout(ch.offlineTimer);
      for (const tx of ch.txs.values()) tx.life.abort();
    }
  }
}

import type { Logger } from "@evgrid/kit";
import type { Caps } from "./caps.ts";
import type { ChargerTable } from "./chargers.ts";
import type { GatewaySettings } from "./gateway.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { Tx } from "./model.ts";
import type { PushOutcome } from "./push-transport.ts";
import { SitePusher } from "./site-pusher.ts";

/**
 * The charge-point-wide default sent at boot: 0 W. A transaction then draws nothing until its own limit,
 * which break before make sends once its share fits. The walk-in minimum instead would have to be reserved
 * in the site's budget for every idle connector, or a burst of plug-ins could exceed the site before any
 * admission.
 */
const DEFAULT_LIMIT_W = 0;

/**
 * Break before make per substation (site-pusher.ts); outcomes counted and refusals logged; a charger that
 * stops or starts taking limits has its sessions pinned at their maximum, or unpinned.
 */
export function sitePusher(
  table: ChargerTable,
  caps: Caps,
  cfg: GatewaySettings,
  metrics: GatewayMetrics,
  log: Logger,
  unmanagedWaiting: (tx: Tx) => void,
  /** Caught drawing more than it accepted before a restart (the registry's mark). */
  caughtBefore: (chargePointId: string) => boolean,
): SitePusher {
  const outcomeLabel = (o: PushOutcome) => (o === "lost" ? "error" : o);
  return new SitePusher(
    {
      send(chargePointId, connectorId, transactionId, watts) {
        const link = table.get(chargePointId)?.link;
        if (!link) return Promise.reject(new Error("charger offline"));
        if (transactionId === null) return link.setDefaultLimit(watts);
        const trace = table.get(chargePointId)?.txs.get(transactionId)?.trace ?? null;
        return link.setLimit(connectorId, transactionId, watts, trace);
      },
      outcome(chargePointId, connectorId, watts, o, latencyMs) {
        metrics.profile(outcomeLabel(o), latencyMs);
        if (o !== "accepted")
          log.warn("charging profile not applied", { chargePointId, connectorId, watts, outcome: o });
      },
      managed(chargePointId, managed, refuses) {
        const ch = table.get(chargePointId);
        if (!ch) return;
        log.warn(managed ? "charger takes limits again" : "charger takes no limits: counted at its maximum", {
          chargePointId,
        });
        for (const tx of ch.txs.values()) {
          // At 0 W (for power, or for who it is for), which a charger refusing limits does not hold to: with
          // no session, nothing at its substation would make room for what it may draw.
          const atZero = tx.phase.state === "waiting" || tx.phase.state === "unidentified";
          if (atZero && refuses) unmanagedWaiting(tx);
          else void caps.sync(tx);
        }
      },
    },
    { backoffMs: cfg.profileBackoffMs, backoffMaxMs: cfg.profileBackoffMaxMs, defaultW: DEFAULT_LIMIT_W },
    Date.now,
    caughtBefore,
  );
}

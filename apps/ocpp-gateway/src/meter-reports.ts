import type { Logger } from "@evgrid/kit";
import { TimeoutError } from "ocpp-rpc";
import type { Charger } from "./chargers.ts";

/**
 * At each boot a charger is asked to report its energy register and power every OCPP_METER_INTERVAL_S while
 * it charges: many chargers send no readings unless told to, and without them reclaim takes a silent meter
 * for drawing nothing (its power down to its minimum) and the over-draw check has nothing to judge. What it
 * answered is shown in listChargePoints (`meterReports`) and logged when it is not "Accepted". It is also
 * asked to stop a transaction whose start was refused (its answer logged unless "Accepted").
 */
/** What a configuration call that failed is shown as: its CALLERROR code, or "timeout", or "error". */
function failureOf(err: unknown): string {
  // ocpp-rpc's TimeoutError keeps Error's name: only its class tells it apart.
  const code = (err as { rpcErrorCode?: unknown }).rpcErrorCode;
  return typeof code === "string" ? code : err instanceof TimeoutError ? "timeout" : "error";
}

export class MeterReports {
  /**
   * Connections asked and not answered yet: a charger sending BootNotification again and again is asked
   * once at a time, not queued two calls per boot in front of its limits.
   */
  private readonly asking = new WeakSet<object>();

  constructor(
    /** 0: never asked (chargers' own settings left as they are). */
    private readonly intervalS: number,
    private readonly log: Logger,
  ) {}

  /** After the boot's answer, behind the calls already queued to the charger (its default and limits). */
  async ask(ch: Charger): Promise<void> {
    const link = ch.link;
    if (this.intervalS === 0 || !link || this.asking.has(link)) return;
    this.asking.add(link);
    const answer = await link.configureMeterReports(this.intervalS).catch(failureOf);
    if (ch.link !== link) {
      this.asking.delete(link);
      return; // a newer connection: its own boot asks again
    }
    ch.meterReports = answer;
    if (answer !== "Accepted")
      this.log.warn(
        "charger did not take its meter reporting: reclaim and over-draw checks need its readings",
        {
          chargePointId: ch.cp.chargePointId,
          intervalS: this.intervalS,
          answer,
        },
      );
    // A start the gateway refused (the vehicle charging elsewhere, an unknown token), stopped by the charger
    // itself: one that charges on is caught drawing with no transaction (stray-draw.ts), which is recorded.
    const stops = await link.configureStopOnInvalidId().catch(failureOf);
    this.asking.delete(link);
    if (stops !== "Accepted" && ch.link === link)
      this.log.warn(
        "charger did not take StopTransactionOnInvalidId: after a refused start it may charge on",
        {
          chargePointId: ch.cp.chargePointId,
          answer: stops,
        },
      );
  }
}

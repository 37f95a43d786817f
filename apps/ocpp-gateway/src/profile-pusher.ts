/**
 * Sends one charger its power limits: one call at a time (chargers handle calls in order, and OCPP-J allows
 * one outstanding call per direction), and only the newest wanted value per connector. A burst of re-shares
 * while a call is out collapses into one more call, so the charger always ends on the latest value.
 */
export interface PushOutcome {
  outcome: "accepted" | "rejected" | "timeout" | "error";
  /** From the re-share the value came from to the charger's answer. */
  latencyMs: number;
}

interface Wanted {
  transactionId: string;
  watts: number;
  /** When the re-share that asked for this value happened (epoch ms). */
  sinceMs: number;
}

export class ProfilePusher {
  private readonly wanted = new Map<number, Wanted>();
  /** The last value sent per connector (answered or not): not sent again until it changes. */
  private readonly sent = new Map<number, { transactionId: string; watts: number }>();
  private running = false;

  constructor(
    private readonly send: (connectorId: number, transactionId: string, watts: number) => Promise<string>,
    private readonly onOutcome: (o: PushOutcome, connectorId: number, watts: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Asks for `watts` on the connector's transaction; a no-op if that is what it has. */
  want(connectorId: number, transactionId: string, watts: number, sinceMs: number): void {
    const last = this.sent.get(connectorId);
    const current = this.wanted.get(connectorId);
    if (!current && last?.watts === watts && last.transactionId === transactionId) return;
    this.wanted.set(connectorId, { transactionId, watts, sinceMs: current?.sinceMs ?? sinceMs });
    this.pump();
  }

  /** What the connector was last sent (for listChargePoints). */
  lastSent(connectorId: number): number | null {
    return this.sent.get(connectorId)?.watts ?? null;
  }

  /** The charger came back (or the transaction ended): everything is sent again on the next want. */
  forget(connectorId?: number): void {
    if (connectorId === undefined) this.sent.clear();
    else {
      this.sent.delete(connectorId);
      this.wanted.delete(connectorId);
    }
  }

  get pending(): number {
    return this.wanted.size;
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
      if (this.wanted.size > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.wanted.entries().next();
      if (next.done) return;
      const [connectorId, w] = next.value;
      this.wanted.delete(connectorId);
      const last = this.sent.get(connectorId);
      if (last?.watts === w.watts && last.transactionId === w.transactionId) continue;
      this.sent.set(connectorId, { transactionId: w.transactionId, watts: w.watts });
      let outcome: PushOutcome["outcome"];
      try {
        const status = await this.send(connectorId, w.transactionId, w.watts);
        outcome = status === "Accepted" ? "accepted" : "rejected";
      } catch (err) {
        outcome = (err as Error)?.name === "TimeoutError" ? "timeout" : "error";
      }
      this.onOutcome({ outcome, latencyMs: this.now() - w.sinceMs }, connectorId, w.watts);
    }
  }
}

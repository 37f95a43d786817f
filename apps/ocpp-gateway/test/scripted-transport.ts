/** A scripted transport for the pusher's tests: every call recorded, every answer released by hand. */
import type { PushTransport } from "../src/push-transport.ts";

export interface Call {
  chargePointId: string;
  connectorId: number;
  watts: number;
  answer: (status: string) => void;
  fail: (err: Error) => void;
}

export function scripted() {
  const calls: Call[] = [];
  const managed: [string, boolean][] = [];
  /** Each answer as the pusher took it: "X 1 5000 accepted". */
  const outcomes: string[] = [];
  const transport: PushTransport = {
    send: (chargePointId, connectorId, _tx, watts) =>
      new Promise<string>((answer, fail) => calls.push({ chargePointId, connectorId, watts, answer, fail })),
    outcome: (id, connectorId, watts, o) => outcomes.push(`${id} ${connectorId} ${watts} ${o}`),
    managed: (id, m) => managed.push([id, m]),
  };
  return { calls, managed, outcomes, transport };
}

export const at = (chargePointId: string, connectorId: number, transactionId: string, maxW: number) => ({
  chargePointId,
  substationId: "s1",
  connectorId,
  transactionId,
  maxW,
});
export const settings = { backoffMs: 60_000, backoffMaxMs: 600_000, defaultW: 0 };
export const open = (calls: Call[]) => calls.filter((c) => !(c as { done?: boolean }).done);
export const answer = (c: Call | undefined, status = "Accepted") => {
  if (!c) throw new Error("no such call");
  (c as { done?: boolean }).done = true;
  c.answer(status);
};

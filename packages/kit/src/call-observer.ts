import type { CallObserver } from "@evgrid/link";
import { type RpcObservability, startClientCall } from "./observe.ts";

/** Every call an internal client makes to `peer`, timed and (tracing on) a CLIENT span carrying `traceparent`. */
export function observeCalls(obs: RpcObservability, peer: string): CallObserver {
  return (path) => startClientCall(obs, peer, path);
}

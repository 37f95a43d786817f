/**
 * What serving one internal call costs in process, framework only (handlers that do nothing): tRPC's
 * middleware chain with an AbortController per call (how a link call ran before issue 21) against the
 * procedure prepared once (kit's prepareInternal, the signal made only if read). Metrics on (the SDK's
 * histogram), traces off; the dispatch request is the one the balancer passes on. Interleaved rounds, medians.
 *   bun apps/load-tester/src/bench/prepared-cost.ts
 */
import { dispatchRequestSchema } from "@evgrid/contract";
import {
  ApiKeys,
  internalProcedure,
  prepareInternal,
  type RequestContext,
  router,
  rpcObservability,
} from "@evgrid/kit";
import { type CallSignal, resolveProcedures } from "@evgrid/link";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { median } from "../load/stats.ts";

const N = 50_000;
const ROUNDS = 7;
const telemetry = startTelemetry({
  service: "prepared-cost",
  version: "0",
  env: telemetryEnvSchema.parse({ OTEL_TRACES_EXPORTER: "none" }),
});
const obs = rpcObservability(telemetry, "prepared-cost");
const procedures = router({
  startSession: internalProcedure.input(dispatchRequestSchema).mutation(({ input }) => input.vehicleId),
  getLoad: internalProcedure.query(() => 1),
});
const at = resolveProcedures<RequestContext>(procedures, prepareInternal);
const ctx = (): RequestContext => ({
  req: null,
  link: { traceparent: undefined, tracestate: undefined },
  obs,
  serviceToken: "x".repeat(32),
  apiKeys: new ApiKeys([]),
  clientAddress: null,
  deadlineAtMs: null,
});
const wire = JSON.parse(JSON.stringify(dispatchRequestSchema.parse({ vehicleId: "ev-1", minKw: 1 })));
const lazy = (): CallSignal => ({
  get signal() {
    return new AbortController().signal;
  },
});

type Kind = "chain" | "prepared";
async function round(kind: Kind, path: string, input: unknown): Promise<number> {
  const p = at(path);
  if (!p?.prepared) throw new Error(`${path} is not prepared`);
  const prepared = p.prepared;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    if (kind === "chain") await p.call(ctx(), input, new AbortController().signal);
    else await prepared(ctx(), input, lazy());
  }
  return ((performance.now() - t0) * 1000) / N;
}

for (const [path, input] of [
  ["startSession", wire],
  ["getLoad", undefined],
] as const) {
  const us: Record<Kind, number[]> = { chain: [], prepared: [] };
  for (let r = 0; r < ROUNDS; r++)
    for (const k of ["chain", "prepared"] as const) us[k].push(await round(k, path, input));
  const [c, p] = [median(us.chain), median(us.prepared)];
  console.log(
    `${path.padEnd(13)} chain ${c.toFixed(2)} µs, prepared ${p.toFixed(2)} µs per call (${(p / c).toFixed(2)}; medians of ${ROUNDS})`,
  );
}
await telemetry.shutdown();

/**
 * What one histogram sample costs, in process: the SDK's meter with an attribute object built per call (as
 * the apps record), with one object cached per key (the "bound" attributes the OpenTelemetry JS API no longer
 * has), and the no-op meter of OTEL_METRICS_EXPORTER=none. Interleaved rounds, medians printed.
 *   bun apps/load-tester/src/bench/record-cost.ts
 */

import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { type Attributes, createNoopMeter, type Histogram } from "@opentelemetry/api";
import { median } from "../load/stats.ts";

const N = 200_000;
const ROUNDS = 7;
const PROCEDURES = ["requestCharge", "dispatch", "startSession", "getLoad"];
const telemetry = startTelemetry({
  service: "record-cost",
  version: "0",
  env: telemetryEnvSchema.parse({ OTEL_TRACES_EXPORTER: "none" }),
});
const buckets = { advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] } };
const sdk = telemetry.meter.createHistogram("record_cost_seconds", buckets);
const noop = createNoopMeter().createHistogram("record_cost_seconds", buckets);

// One object per (procedure, code), looked up in two maps: what binding the attributes once would do.
const cache = new Map<string, Map<string, Attributes>>();
function cached(procedure: string, code: string): Attributes {
  const byCode = cache.get(procedure) ?? new Map<string, Attributes>();
  if (byCode.size === 0) cache.set(procedure, byCode);
  const found = byCode.get(code);
  if (found) return found;
  const made = { rpc_method: procedure, code };
  byCode.set(code, made);
  return made;
}

type Kind = "sdk, object per call" | "sdk, object per key" | "no-op meter";
function round(kind: Kind): number {
  const h: Histogram = kind === "no-op meter" ? noop : sdk;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const procedure = PROCEDURES[i & 3] as string;
    h.record(
      0.002,
      kind === "sdk, object per key" ? cached(procedure, "OK") : { rpc_method: procedure, code: "OK" },
    );
  }
  return ((performance.now() - t0) * 1e6) / N;
}

const kinds: Kind[] = ["sdk, object per call", "sdk, object per key", "no-op meter"];
const ns: Record<string, number[]> = {};
for (const k of kinds) ns[k] = [];
for (let r = 0; r < ROUNDS; r++) for (const k of kinds) ns[k]?.push(round(k));
for (const k of kinds)
  console.log(`${k.padEnd(22)} ${median(ns[k] ?? []).toFixed(0)} ns per sample (median of ${ROUNDS})`);
await telemetry.shutdown();

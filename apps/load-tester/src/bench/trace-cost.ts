/**
 * What tracing costs per request, in process, for each way of exporting spans: the OTLP encoding (JSON or
 * protobuf), the batch size, and how many attributes a span carries. Five spans per request, nested as a
 * request's are (server, client, server, client, server), exported by the batch processor over HTTP to a sink
 * process that only counts bytes; CPU of this process per request, export included.
 *   bun apps/load-tester/src/bench/trace-cost.ts [--requests N]
 */
import { resolve } from "node:path";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { spawnListening } from "@evgrid/testing";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { z } from "zod";

export interface TraceCostCase {
  name: string;
  protocol: "http/json" | "http/protobuf";
  batchSize: number;
  /**
   * Attributes per span: `five` as every span once carried (system, service, method, status code, plus the
   * resource), `trimmed` as they are now (method and system; the peer on client spans; the code only on a
   * failure).
   */
  attributes: "five" | "trimmed";
}

export interface TraceCost extends TraceCostCase {
  cpuUsPerRequest: number;
  bytesPerSpan: number;
}

export const TRACE_COST_CASES: TraceCostCase[] = [
  {
    name: "OTLP/JSON, batches of 512, 4 attributes",
    protocol: "http/json",
    batchSize: 512,
    attributes: "five",
  },
  { name: "OTLP/protobuf, 512, 4 attributes", protocol: "http/protobuf", batchSize: 512, attributes: "five" },
  {
    name: "OTLP/protobuf, 2048, 4 attributes",
    protocol: "http/protobuf",
    batchSize: 2048,
    attributes: "five",
  },
  {
    name: "OTLP/protobuf, 512, trimmed (now)",
    protocol: "http/protobuf",
    batchSize: 512,
    attributes: "trimmed",
  },
  { name: "OTLP/JSON, 512, trimmed", protocol: "http/json", batchSize: 512, attributes: "trimmed" },
];

const SPANS = [
  ["charge-api/requestCharge", SpanKind.SERVER],
  ["balancer/dispatch", SpanKind.CLIENT],
  ["balancer/dispatch", SpanKind.SERVER],
  ["substation/startSession", SpanKind.CLIENT],
  ["substation/startSession", SpanKind.SERVER],
] as const;

async function measure(c: TraceCostCase, sinkUrl: string, requests: number): Promise<TraceCost> {
  const url = `${sinkUrl}/v1/traces`;
  const exporter = c.protocol === "http/json" ? new JsonExporter({ url }) : new ProtoExporter({ url });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench", "service.version": "0" }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        maxExportBatchSize: c.batchSize,
        maxQueueSize: Math.max(8192, c.batchSize * 4),
        scheduledDelayMillis: 200,
      }),
    ],
  });
  const tracer = provider.getTracer("bench");
  const before = await (await fetch(sinkUrl)).json();
  const cpu0 = process.cpuUsage();
  // In slices, yielding between them, so the processor exports as it would under load (not all at the end).
  const slice = 200;
  for (let done = 0; done < requests; done += slice) {
    for (let r = 0; r < slice; r++) {
      let parent = context.active();
      const open = [];
      for (const [name, kind] of SPANS) {
        const [service = "", method = ""] = name.split("/");
        const attributes: Record<string, string> = { "rpc.system.name": "trpc", "rpc.method": method };
        if (c.attributes === "five" || kind === SpanKind.CLIENT) attributes["rpc.service"] = service;
        const span = tracer.startSpan(name, { kind, attributes }, parent);
        if (c.attributes === "five") span.setAttribute("rpc.response.status_code", "OK");
        parent = trace.setSpan(parent, span);
        open.push(span);
      }
      for (const span of open.reverse()) span.end();
    }
    await Bun.sleep(0);
  }
  await provider.forceFlush();
  const cpu = process.cpuUsage(cpu0);
  const after = (await (await fetch(sinkUrl)).json()) as { bytes: number };
  await provider.shutdown();
  return {
    ...c,
    cpuUsPerRequest: (cpu.user + cpu.system) / requests,
    bytesPerSpan: (after.bytes - (before as { bytes: number }).bytes) / (requests * SPANS.length),
  };
}

/** Every case, in one run, each after a warm-up of its own. */
export async function traceCost(requests: number): Promise<TraceCost[]> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const sink = await spawnListening([process.execPath, resolve(import.meta.dir, "otlp-sink.ts")], {
    PORT: "0",
  });
  try {
    const out: TraceCost[] = [];
    for (const c of TRACE_COST_CASES) {
      await measure(c, sink.url, Math.min(2000, requests)); // warm-up: JIT, connections
      out.push(await measure(c, sink.url, requests));
    }
    return out;
  } finally {
    await sink.stop();
  }
}

if (import.meta.main) {
  const { requests } = parseCommandLine({
    command: "trace-cost",
    help: "Usage: bun apps/load-tester/src/bench/trace-cost.ts [--requests N]   (requests per way; default 20000)",
    flags: { requests: { type: "string" } },
    schema: z.object({ requests: numberFlag(1, { integer: true }).default(20_000) }),
  });
  for (const r of await traceCost(requests))
    console.log(
      `${r.name.padEnd(36)} ${r.cpuUsPerRequest.toFixed(1).padStart(7)} µs/request  ${r.bytesPerSpan.toFixed(0)} B/span`,
    );
}

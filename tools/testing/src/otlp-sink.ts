import protobuf from "protobufjs";

/** A span as OTLP carries it, flattened with its resource's service name. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  statusCode: number;
  attributes: Record<string, string | number | boolean>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        status?: { code?: number };
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

const plainValue = (v: OtlpValue) =>
  v.stringValue ??
  (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
  v.doubleValue ??
  v.boolValue ??
  "";

const attributes = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, plainValue(a.value)]));

/**
 * The part of OTLP's trace schema (opentelemetry/proto/trace/v1, collector/trace/v1) a test reads, with the
 * field numbers of the published .proto files. Decoding with it turns a protobuf export into the shape of
 * OTLP/JSON, so both encodings are read the same way below.
 */
const TRACE_SCHEMA = `
syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { repeated Span spans = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  repeated KeyValue attributes = 9; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; }
}`;
const exportRequest = protobuf
  .parse(TRACE_SCHEMA, { keepCase: false })
  .root.lookupType("ExportTraceServiceRequest");

/** A protobuf export as OTLP/JSON would have carried it (ids in hex, 64-bit integers as numbers). */
function decodeProtobuf(bytes: Uint8Array): OtlpTraces {
  const message = exportRequest.decode(bytes);
  const plain = exportRequest.toObject(message, { longs: Number, bytes: Array, defaults: false });
  const hex = (b: unknown) => (Array.isArray(b) ? Buffer.from(b as number[]).toString("hex") : "");
  for (const rs of plain.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        span.traceId = hex(span.traceId);
        span.spanId = hex(span.spanId);
        span.parentSpanId = hex(span.parentSpanId);
      }
    }
  }
  return plain as OtlpTraces;
}

/**
 * An OTLP/HTTP trace receiver on 127.0.0.1:0, standing in for the collector in tests: protobuf (the apps'
 * default) or JSON, as the collector takes both. It also counts metric pushes so a test can tell they arrive,
 * and keeps log records (OTLP/JSON, what the HTTP log exporter sends).
 */
export function startOtlpSink() {
  const spans: ReceivedSpan[] = [];
  let metricPushes = 0;
  const logs: ReceivedLog[] = [];
  /** Trace exports received in each encoding. */
  const encodings = { protobuf: 0, json: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === "/v1/metrics") {
        metricPushes += 1;
        return Response.json({});
      }
      if (pathname === "/v1/logs") {
        logs.push(...receivedLogs((await req.json()) as OtlpLogs));
        return Response.json({});
      }
      if (pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      const protobufBody = req.headers.get("content-type")?.includes("protobuf") === true;
      if (protobufBody) encodings.protobuf += 1;
      else encodings.json += 1;
      const body = protobufBody
        ? decodeProtobuf(new Uint8Array(await req.arrayBuffer()))
        : ((await req.json()) as OtlpTraces);
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributes(rs.resource?.attributes)["service.name"] ?? "");
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              name: s.name,
              kind: s.kind,
              statusCode: s.status?.code ?? 0,
              attributes: attributes(s.attributes),
            });
          }
        }
      }
      return Response.json({});
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    metricPushes: () => metricPushes,
    logs,
    encodings,
    /** Waits until `predicate` holds for the spans received so far. */
    async waitFor(
      predicate: (spans: ReceivedSpan[]) => boolean,
      timeoutMs = 10_000,
    ): Promise<ReceivedSpan[]> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`spans never matched; received ${spans.length}`);
        await Bun.sleep(50);
      }
      return spans;
    },
    [Symbol.dispose]: () => server.stop(true),
  };
}

export interface ReceivedLog {
  service: string;
  severityText: string;
  body: string;
  traceId: string;
  spanId: string;
  attributes: Record<string, unknown>;
}

interface OtlpLogs {
  resourceLogs?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeLogs?: {
      logRecords?: {
        severityText?: string;
        body?: { stringValue?: string };
        traceId?: string;
        spanId?: string;
        attributes?: OtlpAttribute[];
      }[];
    }[];
  }[];
}

function receivedLogs(body: OtlpLogs): ReceivedLog[] {
  return (body.resourceLogs ?? []).flatMap((rl) => {
    const service = String(attributes(rl.resource?.attributes)["service.name"] ?? "");
    return (rl.scopeLogs ?? []).flatMap((sl) =>
      (sl.logRecords ?? []).map((r) => ({
        service,
        severityText: r.severityText ?? "",
        body: r.body?.stringValue ?? "",
        traceId: r.traceId ?? "",
        spanId: r.spanId ?? "",
        attributes: attributes(r.attributes),
      })),
    );
  });
}

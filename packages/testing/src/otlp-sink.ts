/** A span as OTLP/JSON carries it, flattened with its resource's service name. */
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
 * An OTLP/HTTP (JSON) trace receiver on 127.0.0.1:0, standing in for the collector in tests. It also counts
 * metric pushes so a test can tell they arrive.
 */
export function startOtlpSink() {
  const spans: ReceivedSpan[] = [];
  let metricPushes = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const { pathname } = new URL(req.url);
      if (pathname === "/v1/metrics") {
        metricPushes += 1;
        return Response.json({});
      }
      if (pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      const body = (await req.json()) as OtlpTraces;
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

/**
 * One request is ONE trace across three processes: charge-api -> balancer -> substation, with W3C trace
 * context on the wire. The apps run as real processes (`bun run dev`) exporting OTLP/HTTP to a receiver
 * this test runs in place of the collector.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { internalClient } from "@evgrid/link";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import {
  eventually,
  type ReceivedSpan,
  SimulatedChargePoint,
  startDev,
  startOtlpSink,
} from "@evgrid/testing";

setDefaultTimeout(60_000);
const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;

let sink: ReturnType<typeof startOtlpSink>;
let dev: Awaited<ReturnType<typeof startDev>>;

beforeAll(async () => {
  sink = startOtlpSink();
  dev = await startDev(["--random-ports", "--no-quotas", "--capacities", "150,4.2", "--chargers", "1"], {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
  });
});
afterAll(async () => {
  await dev?.[Symbol.asyncDispose]();
  sink?.[Symbol.dispose]();
});

const byName = (spans: ReceivedSpan[], service: string, name: string, kind: number) =>
  spans.filter((s) => s.service === service && s.name === name && s.kind === kind);

describe("distributed tracing", () => {
  test("a charger's StartTransaction is one trace with the walk-in's dispatch, and its profile push joins it", async () => {
    const [demo] = dev.urls.chargers.filter((c) => c.substationId === "substation-1");
    if (!demo) throw new Error("bun run dev --chargers 1 printed no charge point at substation-1");
    const cp = new SimulatedChargePoint({
      url: dev.urls.ocpp,
      id: demo.id,
      password: demo.password,
      protocol: "ocpp2.0.1",
    });
    try {
      await cp.connect();
      const profile = cp.nextProfile(1, () => true);
      await cp.startTransaction(1, "ev-traced-ocpp");
      await profile;
      const gw = (all: ReceivedSpan[]) =>
        all.find(
          (s) => s.service === "ocpp-gateway" && s.name === "ocpp TransactionEvent" && s.kind === SERVER,
        );
      const spans = await sink.waitFor((all) => {
        const root = gw(all);
        const names = new Set(
          all.filter((s) => s.traceId === root?.traceId).map((s) => `${s.service}:${s.name}`),
        );
        // Every span asserted below: each process exports its own batches, in no set order.
        return [
          "substation:substation/startSession",
          "ocpp-gateway:ocpp SetChargingProfile",
          "ocpp-gateway:balancer/dispatch",
          "balancer:balancer/dispatch",
        ].every((n) => names.has(n));
      });
      const root = gw(spans) as ReceivedSpan;
      const trace = spans.filter((s) => s.traceId === root.traceId);
      expect(root.attributes).toMatchObject({
        "ocpp.action": "TransactionEvent",
        "ocpp.charge_point": demo.id,
      });
      const dispatch = trace.find((s) => s.service === "ocpp-gateway" && s.name === "balancer/dispatch");
      expect(dispatch?.kind).toBe(CLIENT);
      const push = trace.find((s) => s.name === "ocpp SetChargingProfile");
      expect({ kind: push?.kind, parent: push?.parentSpanId }).toEqual({ kind: CLIENT, parent: root.spanId });
      expect(
        trace.some((s) => s.service === "balancer" && s.name === "balancer/dispatch" && s.kind === SERVER),
      ).toBe(true);
    } finally {
      await cp.close();
    }
  });

  test("requestCharge produces spans from all three services in one trace with correct parent links", async () => {
    const api = internalClient<ChargeApiRouter>(dev.urls.chargeApi, { timeoutMs: 5000 });
    const grant = await api.requestCharge.mutate({ vehicleId: "ev-traced", maxKw: 22, durationS: 60 });

    // Each service flushes on its own schedule: wait for every hop of this request's trace.
    const rootOf = (all: ReceivedSpan[]) =>
      byName(all, "charge-api", "charge-api/requestCharge", SERVER).find(
        (s) => s.attributes["evgrid.vehicle.id"] === "ev-traced",
      );
    const spans = await sink.waitFor((all) => {
      const root = rootOf(all);
      const services = new Set(
        all.filter((s) => s.traceId === root?.traceId).map((s) => `${s.service}:${s.kind}`),
      );
      return services.size === 5;
    });
    const apiServer = rootOf(spans);
    const trace = spans.filter((s) => s.traceId === apiServer?.traceId);
    const one = (service: string, name: string, kind: number) => {
      const found = byName(trace, service, name, kind);
      expect({ service, name, count: found.length }).toEqual({ service, name, count: 1 });
      return found[0] as ReceivedSpan;
    };
    const apiClient = one("charge-api", "balancer/dispatch", CLIENT);
    const balancerServer = one("balancer", "balancer/dispatch", SERVER);
    const balancerClient = one("balancer", "substation/startSession", CLIENT);
    const substationServer = one("substation", "substation/startSession", SERVER);

    // The chain of parents, hop by hop.
    expect(apiServer?.parentSpanId).toBe("");
    expect(apiClient.parentSpanId).toBe(apiServer?.spanId as string);
    expect(balancerServer.parentSpanId).toBe(apiClient.spanId);
    expect(balancerClient.parentSpanId).toBe(balancerServer.spanId);
    expect(substationServer.parentSpanId).toBe(balancerClient.spanId);

    // What an operator looks for in Tempo.
    expect(apiServer?.attributes).toMatchObject({
      "rpc.system.name": "trpc",
      "rpc.method": "requestCharge",
      "evgrid.vehicle.id": "ev-traced",
      "evgrid.request.max_kw": 22,
      "evgrid.substation.id": grant.substationId,
      "evgrid.session.id": grant.sessionId,
      "evgrid.allocated_kw": grant.allocatedKw,
      "evgrid.dispatch.tries": 1,
    });
    // OTLP/protobuf by default (the cheaper encoding, BENCHMARKS.md).
    expect(sink.encodings.protobuf).toBeGreaterThan(0);
    expect(sink.encodings.json).toBe(0);
    // Answered OK: no error status, and no status code attribute (it is written only on a failure).
    expect(apiServer?.statusCode).not.toBe(2);
    expect(apiServer?.attributes["rpc.response.status_code"]).toBeUndefined();
    expect(balancerServer.attributes).toMatchObject({
      "evgrid.vehicle.id": "ev-traced",
      "evgrid.request.min_kw": 4.2,
      "evgrid.substation.id": grant.substationId,
      "evgrid.dispatch.tries": 1,
    });
  });

  test("concurrent requests each get their own trace, correctly linked hop by hop", async () => {
    const api = internalClient<ChargeApiRouter>(dev.urls.chargeApi, { timeoutMs: 5000 });
    const vehicles = Array.from({ length: 20 }, (_, i) => `ev-batch-${i}`);
    await Promise.all(vehicles.map((vehicleId) => api.requestCharge.mutate({ vehicleId, durationS: 60 })));
    const rootOf = (all: ReceivedSpan[], vehicleId: string) =>
      all.find(
        (s) =>
          s.service === "charge-api" && s.kind === SERVER && s.attributes["evgrid.vehicle.id"] === vehicleId,
      );
    const spans = await sink.waitFor((all) =>
      vehicles.every((v) => {
        const root = rootOf(all, v);
        return all.filter((s) => s.traceId === root?.traceId).length >= 5;
      }),
    );
    for (const vehicleId of vehicles) {
      const root = rootOf(spans, vehicleId) as ReceivedSpan;
      const trace = spans.filter((s) => s.traceId === root.traceId);
      const at = (service: string, kind: number) =>
        trace.filter((s) => s.service === service && s.kind === kind);
      const [apiClient] = at("charge-api", CLIENT);
      const [balServer] = at("balancer", SERVER);
      const [balClient] = at("balancer", CLIENT);
      const [subServer] = at("substation", SERVER);
      expect({ vehicleId, spans: trace.length }).toEqual({ vehicleId, spans: 5 });
      expect(balServer?.attributes["evgrid.vehicle.id"]).toBe(vehicleId);
      expect(apiClient?.parentSpanId).toBe(root.spanId);
      expect(balServer?.parentSpanId).toBe(apiClient?.spanId as string);
      expect(balClient?.parentSpanId).toBe(balServer?.spanId as string);
      expect(subServer?.parentSpanId).toBe(balClient?.spanId as string);
    }
  });

  test("a refused request is an error span carrying the refusal reason", async () => {
    // Fill the grid (150 + 4.2 kW of 4.2 kW minimums) until the first refusal.
    const api = internalClient<ChargeApiRouter>(dev.urls.chargeApi, { timeoutMs: 5000 });
    let refusedAfter = -1;
    for (let i = 0; i < 100 && refusedAfter < 0; i++) {
      await api.requestCharge.mutate({ vehicleId: `fill-${i}`, durationS: 60 }).catch(() => {
        refusedAfter = i;
      });
    }
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    const spans = await sink.waitFor((all) => {
      const root = all.find(
        (s) => s.service === "charge-api" && s.attributes["evgrid.error.reason"] === "GRID_FULL",
      );
      return all.some((s) => s.traceId === root?.traceId && s.service === "balancer" && s.kind === SERVER);
    });
    const refused = spans.find(
      (s) => s.service === "charge-api" && s.attributes["evgrid.error.reason"] === "GRID_FULL",
    );
    expect(refused?.statusCode).toBe(STATUS_ERROR);
    expect(refused?.attributes["rpc.response.status_code"]).toBe("TOO_MANY_REQUESTS");
    const balancer = spans.find(
      (s) => s.traceId === refused?.traceId && s.service === "balancer" && s.kind === SERVER,
    );
    expect(balancer?.attributes["evgrid.error.reason"]).toBe("GRID_FULL");
  });

  test("an incoming traceparent (a browser, a caller that traces) is continued, including on POST /request_charge", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    const res = await fetch(`${dev.urls.chargeApi}/request_charge`, {
      method: "POST",
      headers: { traceparent: `00-${traceId}-${parentId}-01` },
      body: JSON.stringify({ durationS: 1 }),
    });
    expect(res.status === 200 || res.status === 429).toBe(true);
    const spans = await sink.waitFor((all) =>
      all.some((s) => s.traceId === traceId && s.service === "charge-api" && s.kind === SERVER),
    );
    const root = spans.find((s) => s.traceId === traceId && s.service === "charge-api" && s.kind === SERVER);
    expect(root?.parentSpanId).toBe(parentId);
  });

  test("the balancer's background load refresh is not traced on either side", () => {
    // By now the refresh has run dozens of times (every 500 ms per substation).
    expect(sink.spans.filter((s) => s.name.endsWith("/getLoad"))).toEqual([]);
    expect(sink.spans.length).toBeGreaterThan(10);
  });

  test("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json exports the same spans as JSON", async () => {
    using own = startOtlpSink();
    const env = telemetryEnvSchema.parse({
      OTEL_EXPORTER_OTLP_ENDPOINT: own.url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
    });
    const telemetry = startTelemetry({ service: "json-check", version: "0", env });
    telemetry.tracer.startSpan("json-check/ping", { attributes: { "rpc.method": "ping" } }).end();
    await telemetry.shutdown();
    const [span] = await own.waitFor((all) => all.length > 0);
    expect(own.encodings).toEqual({ protobuf: 0, json: 1 });
    expect(span).toMatchObject({
      service: "json-check",
      name: "json-check/ping",
      attributes: { "rpc.method": "ping" },
    });
    expect(span?.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test("an unknown OTLP protocol is refused, naming the variable and what it may be", () => {
    const parsed = telemetryEnvSchema.safeParse({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" });
    expect(parsed.error?.issues[0]).toMatchObject({
      path: ["OTEL_EXPORTER_OTLP_PROTOCOL"],
      message: expect.stringContaining("http/protobuf or http/json"),
    });
  });

  test("metrics are also pushed by OTLP when asked (OTEL_METRICS_EXPORTER=otlp)", async () => {
    await eventually(() => expect(sink.metricPushes()).toBeGreaterThan(0), { timeoutMs: 20_000 });
  });
});

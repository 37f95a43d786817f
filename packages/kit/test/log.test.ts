import { expect, test } from "bun:test";
import { startTelemetry, telemetryEnvSchema } from "@evgrid/telemetry";
import { context, trace } from "@opentelemetry/api";
import { listeningUrl } from "../src/listening.ts";
import { createLogger, type LoggerOptions } from "../src/log.ts";

/** What a logger prints to each stream. */
function captured(write: (log: ReturnType<typeof createLogger>) => void, opts: LoggerOptions = {}) {
  const out = { stdout: "", stderr: "" };
  write(
    createLogger({
      service: "ocpp-gateway",
      ...opts,
      sinks: { stdout: (l) => (out.stdout += l), stderr: (l) => (out.stderr += l) },
    }),
  );
  return out;
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const HOSTILE =
  "cp-1\nwarn charge point accepted chargePointId=cp-admin\r\u0000\u001b[31mred\u0085\u2028x\u007f\u2029";

test("JSON: one line per event with level, time, service and msg; warnings and errors on stderr", () => {
  const out = captured((log) => {
    log.info("substation listening", { url: "http://127.0.0.1:8101", sites: 2 });
    log.warn("power events interrupted", { substationId: "substation-1" });
    log.error("journal write failed", { op: "end" });
  });
  const [info] = lines(out.stdout).map((l) => JSON.parse(l));
  expect(info).toMatchObject({
    level: "info",
    service: "ocpp-gateway",
    msg: "substation listening",
    url: "http://127.0.0.1:8101",
    sites: 2,
  });
  expect(new Date(info.time).getTime()).toBeGreaterThan(0);
  expect(lines(out.stderr).map((l) => JSON.parse(l))).toMatchObject([
    { level: "warn", msg: "power events interrupted", substationId: "substation-1" },
    { level: "error", msg: "journal write failed", op: "end" },
  ]);
  // No trace context here: no ids.
  expect(info.trace_id).toBeUndefined();
});

test("JSON: a newline, NUL, ESC, C1 control or line separator in any field cannot forge a line, and reads back intact", () => {
  const out = captured((log) => {
    log.warn("charge point refused", { chargePointId: HOSTILE, nested: { id: HOSTILE }, n: 3 });
    log.warn(`message ${HOSTILE}`);
    log.warn("err", { [`key${HOSTILE}`]: 1 });
  });
  expect(out.stderr).not.toMatch(/[[\p{Cc}\u2028\u2029]--[\n]]/v);
  const events = lines(out.stderr).map((l) => JSON.parse(l));
  expect(events).toHaveLength(3);
  expect(events[0]).toMatchObject({ chargePointId: HOSTILE, nested: { id: HOSTILE }, n: 3 });
  expect(events[1].msg).toBe(`message ${HOSTILE}`);
  expect(events[2][`key${HOSTILE}`]).toBe(1);
});

test("JSON: inside a span, every line carries its trace_id and span_id", async () => {
  // As an app does: its telemetry installs the context manager that carries the span.
  const telemetry = startTelemetry({ service: "t", version: "0", env: telemetryEnvSchema.parse({}) });
  const spanContext = {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: 1,
  };
  const out = captured((log) =>
    context.with(trace.setSpanContext(context.active(), spanContext), () =>
      log.info("session admitted", { vehicleId: "ev-1" }),
    ),
  );
  expect(JSON.parse(out.stdout)).toMatchObject({
    msg: "session admitted",
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
  });
  await telemetry.shutdown();
});

test("quiet silences info only; every event also reaches onRecord (OTLP export)", () => {
  const records: unknown[] = [];
  const out = captured(
    (log) => {
      log.info("hidden");
      log.warn("shown", { a: 1 });
    },
    { quiet: true, onRecord: (r) => records.push(r) },
  );
  expect(out.stdout).toBe("");
  expect(lines(out.stderr)).toHaveLength(1);
  expect(records).toEqual([{ level: "warn", message: "shown", fields: { a: 1 } }]);
});

test("pretty (bun run dev): `level message key=value`, controls escaped, as before", () => {
  const out = captured(
    (log) => {
      log.warn("power events interrupted", { substationId: "substation-1", ok: true });
      log.warn("charge point refused", { chargePointId: HOSTILE });
    },
    { format: "pretty" },
  );
  const [plain, hostile] = lines(out.stderr);
  expect(plain).toBe("warn power events interrupted substationId=substation-1 ok=true");
  expect(hostile).toStartWith("warn charge point refused chargePointId=cp-1\\nwarn charge point accepted");
  expect(hostile).toContain("\\r\\u0000\\u001b[31mred\\u0085\\u2028x\\u007f\\u2029");
  expect(out.stderr).not.toMatch(/[[\p{Cc}\u2028\u2029]--[\n]]/v);
});

test("the listening line is found in both formats, and only a listening line", () => {
  for (const format of ["json", "pretty"] as const) {
    const out = captured(
      (log) => {
        log.info("balancer started", { url: "http://127.0.0.1:1" });
        log.info("balancer listening", { url: "http://127.0.0.1:8081", tracing: false });
      },
      { format },
    );
    expect(lines(out.stdout).map(listeningUrl)).toEqual([undefined, "http://127.0.0.1:8081"]);
  }
});

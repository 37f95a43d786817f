import { isSpanContextValid, trace } from "@opentelemetry/api";
import pino from "pino";

/**
 * One event per line. In `json` (the default) a pino JSON object: `level`, `time`, `service`, `msg`, the
 * fields, and `trace_id`/`span_id` of the active span, so a log line opens its trace and a trace finds its
 * lines. In `pretty` (`bun run dev`) `level message key=value ...`, which the dev runner prefixes with the
 * app's name.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type LogFormat = "json" | "pretty";
export type LogLevel = "info" | "warn" | "error";

/** Where lines go: info to stdout, warnings and errors to stderr (as before, and as process managers expect). */
export interface LogSinks {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** A finished event, for a second destination (OTLP log export). */
export interface LogRecord {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
  traceId?: string;
  spanId?: string;
}

export interface LoggerOptions {
  /** The service name every line carries. */
  service?: string;
  /** Silences info (tests). */
  quiet?: boolean;
  format?: LogFormat;
  sinks?: LogSinks;
  /** Also handed every event that is written (e.g. to export it by OTLP). */
  onRecord?: (record: LogRecord) => void;
}

/**
 * C0 and C1 controls (newline, CR, NUL, ESC that starts an ANSI sequence...), DEL and the Unicode line
 * separators: any of them in a field (a charger's id from its URL, an error message) could end the line and
 * forge another, or repaint a terminal.
 */
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** The text with every control character written as an escape, so one event stays one line. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * JSON encoding escapes C0 controls, but leaves DEL, C1 controls and U+2028/2029 raw. They can only occur
 * inside JSON strings, where `\uXXXX` means the same character: escaping them keeps the JSON equal and the
 * line free of every control character. (The line's own final newline is added after.)
 */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;
const escapeJsonLine = (line: string) =>
  line.replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

function formatValue(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** The `pretty` line: `level message key=value ...`, controls escaped. */
export function formatLine(level: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields
    ? Object.entries(fields)
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(" ")
    : "";
  return escapeControl(extra ? `${level} ${message} ${extra}` : `${level} ${message}`);
}

/** The active span's ids, if any: a request's span, or a caller's context propagated to us. */
function activeSpanIds(): { trace_id: string; span_id: string } | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : undefined;
}

const processSinks: LogSinks = {
  stdout: (line) => process.stdout.write(line),
  stderr: (line) => process.stderr.write(line),
};

export function createLogger(opts: LoggerOptions = {}): Logger {
  const sinks = opts.sinks ?? processSinks;
  const minimum = opts.quiet ? "warn" : "info";
  const record = (level: LogLevel, message: string, fields: Record<string, unknown> | undefined) => {
    if (!opts.onRecord) return;
    const ids = activeSpanIds();
    opts.onRecord({ level, message, fields: fields ?? {}, traceId: ids?.trace_id, spanId: ids?.span_id });
  };

  if (opts.format === "pretty") {
    const write = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
      if (level === "info" && opts.quiet) return;
      const ids = activeSpanIds();
      const line = formatLine(level, message, ids ? { ...fields, ...ids } : fields);
      (level === "info" ? sinks.stdout : sinks.stderr)(`${line}\n`);
      record(level, message, fields);
    };
    return {
      info: (m, f) => write("info", m, f),
      warn: (m, f) => write("warn", m, f),
      error: (m, f) => write("error", m, f),
    };
  }

  const streams = pino.multistream(
    [
      { level: "info", stream: { write: (s: string) => sinks.stdout(escapeJsonLine(s)) } },
      { level: "warn", stream: { write: (s: string) => sinks.stderr(escapeJsonLine(s)) } },
    ],
    // Each line to the one stream of the highest level it reaches: warnings to stderr only.
    { dedupe: true },
  );
  const logger = pino(
    {
      level: minimum,
      base: opts.service ? { service: opts.service } : null,
      // `"level":"warn"`, not pino's numbers: readable by people and by any log backend without a mapping.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: () => activeSpanIds() ?? {},
    },
    streams,
  );
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (level === "info" && opts.quiet) return;
    logger[level](fields ?? {}, message);
    record(level, message, fields);
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

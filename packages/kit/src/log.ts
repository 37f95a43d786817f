/** One line per event, `level message key=value ...`; the dev runner prefixes each line with the service. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function format(level: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields
    ? Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ")
    : "";
  return extra ? `${level} ${message} ${extra}` : `${level} ${message}`;
}

export function createLogger(quiet = false): Logger {
  return {
    info: (m, f) => {
      if (!quiet) console.log(format("info", m, f));
    },
    warn: (m, f) => console.warn(format("warn", m, f)),
    error: (m, f) => console.error(format("error", m, f)),
  };
}

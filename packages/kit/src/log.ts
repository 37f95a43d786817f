/** One line per event, `level message key=value ...`; the dev runner prefixes each line with the service. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
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

function formatValue(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function formatLine(level: string, message: string, fields?: Record<string, unknown>): string {
  const extra = fields
    ? Object.entries(fields)
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(" ")
    : "";
  return escapeControl(extra ? `${level} ${message} ${extra}` : `${level} ${message}`);
}

export function createLogger(quiet = false): Logger {
  return {
    info: (m, f) => {
      if (!quiet) console.log(formatLine("info", m, f));
    },
    warn: (m, f) => console.warn(formatLine("warn", m, f)),
    error: (m, f) => console.error(formatLine("error", m, f)),
  };
}

/**
 * `<out>/sessions.csv`: one line per vehicle and policy, for a planner's own spreadsheet. Written as the
 * engine hands over each session, in chunks: a million sessions times every policy is never one string.
 */
import { closeSync, openSync } from "node:fs";
import { writeAllSync } from "@evgrid/kit/private-files";
import { writing } from "./output.ts";
import type { SessionRecord } from "./records.ts";

/**
 * `id` is the simulator's number for the car; `session_id` the input's sessionID (empty for generated
 * arrivals), last so that a reader taking the columns by position before it still reads them.
 */
export const SESSIONS_CSV_HEADER =
  "policy,id,site,station,arrival_min,departure_min,asked_kwh,delivered_kwh,waited_min,outcome,session_id";

/**
 * RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. Text a spreadsheet would
 * run as a formula (its first character =, +, -, @, a tab or a carriage return: a station or session id
 * from someone else's export) starts with a quote mark, so it opens as text.
 */
const field = (text: string | null) => {
  if (text === null) return "";
  const s = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One line (without its line break); times are minutes since the first day's midnight. */
export function sessionCsvRow(policyId: string, r: SessionRecord): string {
  return [
    field(policyId),
    String(r.id),
    field(r.siteId),
    field(r.stationId),
    r.arriveMin.toFixed(2),
    r.departMin.toFixed(2),
    r.askedKwh.toFixed(3),
    r.deliveredKwh.toFixed(3),
    r.waitedMin.toFixed(2),
    r.outcome,
    field(r.sessionId),
  ].join(",");
}

/** Characters held before they are written: about a megabyte of text. */
const FLUSH_CHARS = 1 << 20;

/** The file, open for appending rows; `close()` (or `using`) writes what is left. */
export class SessionsCsvWriter implements Disposable {
  private readonly fd: number;
  private chunk: string[] = [];
  private chars = 0;
  private closed = false;
  private failed = false;
  rows = 0;

  constructor(
    private readonly path: string,
    private readonly flushChars = FLUSH_CHARS,
  ) {
    this.fd = writing(path, () => openSync(path, "w"));
    try {
      this.write(`${SESSIONS_CSV_HEADER}\n`);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  add(policyId: string, record: SessionRecord): void {
    const line = `${sessionCsvRow(policyId, record)}\n`;
    this.chunk.push(line);
    this.chars += line.length;
    this.rows += 1;
    if (this.chars >= this.flushChars) this.flush();
  }

  private flush(): void {
    if (this.chunk.length === 0 || this.failed) return;
    const text = this.chunk.join("");
    this.chunk = [];
    this.chars = 0;
    this.write(text);
  }

  /** All of `text` (kit's writeAllSync: a short write is finished or fails). */
  private write(text: string): void {
    try {
      writing(this.path, () => writeAllSync(this.fd, text));
    } catch (err) {
      this.failed = true; // closing only closes the file then: the error is the run's, told once
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A CSV file as records, read in chunks so memory holds one chunk and the rows kept, never the whole file:
 * csv-parse's synchronous parser is fed one batch of whole records at a time. A batch ends at the last line
 * ending outside quotes (a line ending inside a quoted field belongs to its record; `""` keeps the parity).
 * Every line ending is one: CRLF, LF and a lone CR, mixed in one file too (an export appended to by another
 * tool). Each batch has them made LF before csv-parse sees it, so it never guesses the delimiter from a
 * batch's first line (a CRLF header then read LF rows as one record); a quoted field's line endings read as LF.
 * Synchronous on purpose: `runAll` and the engine stay synchronous, and a replay reads one file anyway.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { CsvError, parse } from "csv-parse/sync";

const CHUNK_BYTES = 1 << 20;
/** One record longer than this is an unterminated quote, not data: refuse it instead of growing forever. */
const MAX_RECORD_BYTES = 1 << 20;

export interface CsvRecord {
  fields: string[];
  /** 1-based line of the file where the record begins: where a reader of the file looks for it. */
  line: number;
  /** Where it ends: after `line` when a quoted field holds a line break. */
  lastLine: number;
}

/** "line 3", or "lines 3-5" for a record over several lines, for messages. */
export const linesOf = (r: { line: number; lastLine: number }) =>
  r.lastLine > r.line ? `lines ${r.line}-${r.lastLine}` : `line ${r.line}`;

/** Line breaks in the fields: only a quoted field holds one, each an LF here (see `withLf`). */
function breaksIn(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf("\n"); i >= 0; i = f.indexOf("\n", i + 1)) n++;
  return n;
}

export class CsvReadError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * Where the last whole record of `buf` ends (-1 if none), and how many lines lie before that point. A CR
 * ending `buf` is left for the next chunk (its LF may start it) unless `buf` is the end of the file.
 */
function lastRecordEnd(buf: Buffer, atEof: boolean): { end: number; lines: number } {
  let inQuotes = false;
  let end = -1;
  let lines = 0;
  let breaks = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === QUOTE) inQuotes = !inQuotes;
    else if (b === LF || b === CR) {
      if (b === CR) {
        if (i + 1 < buf.length) {
          if (buf[i + 1] === LF) continue;
        } else if (!atEof) break;
      }
      breaks++;
      if (!inQuotes) {
        end = i + 1;
        lines = breaks;
      }
    }
  }
  return { end, lines };
}

/** `buf` with every CRLF and lone CR made LF (`buf` itself if it has no CR). */
function withLf(buf: Buffer): Buffer {
  if (buf.indexOf(CR) < 0) return buf;
  const out = Buffer.allocUnsafe(buf.length);
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i] as number;
    if (b !== CR) out[n++] = b;
    else if (buf[i + 1] !== LF) out[n++] = LF;
  }
  return out.subarray(0, n);
}

const SPACE = 0x20;
const TAB = 0x09;

/**
 * The line (1-based, in `text`, whose line ends are LF) on which record number `index` (0-based) begins:
 * records end at a line end outside quotes, and lines of blanks are skipped, as csv-parse does with
 * `skip_empty_lines` and `trim`. The records before it parsed, so their quotes pair as csv-parse paired them.
 */
function recordStart(text: Buffer, index: number): number {
  let line = 1;
  let records = 0;
  let inRecord = false;
  let inQuotes = false;
  for (let i = 0; i < text.length; i++) {
    const b = text[i];
    if (b === LF) {
      line++;
      if (inRecord && !inQuotes) {
        records++;
        inRecord = false;
      }
    } else if (inRecord || (b !== SPACE && b !== TAB)) {
      if (!inRecord && records === index) return line;
      inRecord = true;
      if (b === QUOTE) inQuotes = !inQuotes;
    }
  }
  return line;
}

function parseBatch(batch: Buffer, lineBase: number, first: boolean): CsvRecord[] {
  const text = withLf(batch);
  try {
    const rows = parse(text, {
      bom: first,
      record_delimiter: "\n",
      info: true,
      // Rows of any length come through: the reader names what a short row lacks and refuses a long one.
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    // csv-parse counts the line a record ends on; it begins as many lines earlier as its fields hold breaks.
    return rows.map((r) => {
      const lastLine = lineBase + r.info.lines;
      return { fields: r.record, line: lastLine - breaksIn(r.record), lastLine };
    });
  } catch (err) {
    if (err instanceof CsvError) {
      // csv-parse names the line it stopped on (an unclosed quote: the next quote, or the end of the file);
      // the user is shown the line where that record, and so the quote, began.
      const { lines, records } = err as unknown as { lines?: number; records?: number };
      const line = lineBase + recordStart(text, records ?? 0);
      const stopped = lineBase + (lines ?? 1);
      const where = stopped > line ? `; the parser stopped on line ${stopped}` : "";
      throw new CsvReadError(`malformed CSV (${err.code}${where})`, line);
    }
    throw err;
  }
}

/** Every record of the file, the header included, in order. */
export function* csvRecords(path: string): Generator<CsvRecord> {
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let carry: Buffer = Buffer.alloc(0);
    let lineBase = 0;
    let first = true;
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
      if (n === 0) break;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      const { end, lines } = lastRecordEnd(buf, false);
      if (end < 0) {
        if (buf.length > MAX_RECORD_BYTES)
          throw new CsvReadError("a record longer than 1 MiB (an unterminated quote?)", lineBase + 1);
        carry = Buffer.from(buf);
        continue;
      }
      yield* parseBatch(buf.subarray(0, end), lineBase, first);
      first = false;
      lineBase += lines;
      // Copied: `chunk` is overwritten by the next read.
      carry = Buffer.from(buf.subarray(end));
    }
    if (carry.length > 0) yield* parseBatch(carry, lineBase, first);
  } finally {
    closeSync(fd);
  }
}

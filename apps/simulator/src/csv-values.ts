/**
 * The values of a sessions CSV, read strictly: a field either is what the column means or is refused by its
 * line. `Date.parse` is not used: it reads a time without a zone in the machine's zone (the same file and
 * seed gave another report in New York than in UTC), and it reads `1`, `Tue 99` or `1/2/3` as dates and
 * `2026-02-30` as March 2.
 */

/** What a time may look like, for messages. */
export const TIME_FORMATS =
  "ISO 8601 such as 2026-03-10T07:00:00Z, UTC if it names no zone, or RFC 1123 such as Tue, 10 Mar 2026 07:00:00 GMT";

// 2026-03-10, 2026-03-10T07:00, 2026-03-10 07:00:00.250, ...Z, ...+01:00, ...+0100, ...+01. Groups: year,
// month, day, hour, minute, second, fraction, zone sign, hours, minutes.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;
// ACN-Data's "Wed, 25 Apr 2018 11:08:04 GMT" (RFC 1123), or RFC 2822's numeric zone; the zone is required.
// Groups: day, month's name, year, hour, minute, second, zone sign, hours, minutes.
const RFC =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+(\d{2}):(\d{2})(?::(\d{2}))?\s+(?:GMT|UTC|UT|Z|([+-])(\d{2})(\d{2}))$/i;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

/** Days from 1970-01-01 to the (proleptic Gregorian) date: arithmetic, no Date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

const num = (text: string | undefined) => (text === undefined ? 0 : Number(text));

/** Minutes east of UTC of a zone's sign, hours and minutes; undefined past 23:59. */
function zoneMinutes(sign: string | undefined, hours: string | undefined, minutes: string | undefined) {
  const h = num(hours);
  const m = num(minutes);
  return h > 23 || m > 59 ? undefined : (sign === "-" ? -1 : 1) * (h * 60 + m);
}

/** Milliseconds since the epoch, or undefined for a time that does not exist (30 February, 24:00, +25:00). */
function instant(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  zone: number | undefined,
): number | undefined {
  if (month < 1 || month > 12 || day < 1) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || zone === undefined) return undefined;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - zone) * 60_000 + second * 1000 + ms;
}

/** A time in one of `TIME_FORMATS` as milliseconds since the epoch; undefined if it is not one. */
export function parseTime(text: string): number | undefined {
  // Numbered groups and positional arguments: named groups and arrays made a million rows' times 3 times
  // slower to read than with Date.parse.
  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, d, h, mi, s, fraction, sign, zh, zm] = iso;
    const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, "0")) : 0;
    return instant(num(y), num(mo), num(d), num(h), num(mi), num(s), ms, zoneMinutes(sign, zh, zm));
  }
  const rfc = RFC.exec(text);
  if (!rfc) return undefined;
  const [, d, monthName, y, h, mi, s, sign, zh, zm] = rfc;
  const mo = MONTHS.indexOf((monthName as string).toLowerCase()) + 1;
  return instant(num(y), mo, num(d), num(h), num(mi), num(s), 0, zoneMinutes(sign, zh, zm));
}

// 12, 12.5, .5, +7, 1.5e1: not 0x1A, 0b11, Infinity or 1,5 (`Number` reads the first three).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number, or undefined if the text is not one (or is too large to be finite). */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** What JSON.stringify leaves as it is among control characters: DEL and the C1 set (U+009B is a CSI). */
const C1_AND_DEL = /[\u007f-\u009f]/g;

/**
 * A value of the file in a message: quoted, at most `max` characters, its line breaks and control characters
 * escaped (`\n`, `\u001b`), so the message stays on its line and a file from someone else cannot send the
 * terminal an escape sequence (retitle it, clear it, rewrite what it showed).
 */
export const shown = (text: string, max = 40): string =>
  JSON.stringify(text.slice(0, max)).replace(
    C1_AND_DEL,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );

/** A name from the file (a column, a station) as it is, or `shown` if it holds a control character or a quote. */
export const named = (text: string): string =>
  shown(text, text.length) === `"${text}"` ? text : shown(text);

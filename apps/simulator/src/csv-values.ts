/**
 * The values of a sessions CSV, read strictly: a field either is what the column means or is refused by its
 * line. `Date.parse` is not used: it reads a time without a zone in the machine's zone (the same file and
 * seed gave another report in New York than in UTC), and it reads `1`, `Tue 99` or `1/2/3` as dates and
 * `2026-02-30` as March 2.
 */

/** What a time may look like, for messages. */
export const TIME_FORMATS =
  "ISO 8601 such as 2026-03-10T07:00:00Z, UTC if it names no zone, or RFC 1123 such as Tue, 10 Mar 2026 07:00:00 GMT";

// 2026-03-10, 2026-03-10T07:00, 2026-03-10 07:00:00.250, ...Z, ...+01:00, ...+0100, ...+01.
const ISO =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[Tt ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d{1,9}))?)?(?:[Zz]|(?<sign>[+-])(?<zoneH>\d{2})(?::?(?<zoneM>\d{2}))?)?)?$/;
// ACN-Data's "Wed, 25 Apr 2018 11:08:04 GMT" (RFC 1123), or RFC 2822's numeric zone; the zone is required.
const RFC =
  /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(?<day>\d{1,2})\s+(?<monthName>[a-z]{3})\s+(?<year>\d{4})\s+(?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2}))?\s+(?:GMT|UTC|UT|Z|(?<sign>[+-])(?<zoneH>\d{2})(?<zoneM>\d{2}))$/i;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** Days in the month (1-12); the Gregorian calendar repeats every 400 years. */
const daysIn = (year: number, month: number) =>
  new Date(Date.UTC(2000 + (year % 400), month, 0)).getUTCDate();

/**
 * Milliseconds since the epoch of a match's named groups, or undefined for a time that does not exist
 * (30 February, 24:00, +25:00).
 */
function instant(g: Record<string, string | undefined>): number | undefined {
  const n = (name: string) => Number(g[name] ?? 0);
  const year = n("year");
  const month = g.monthName ? MONTHS.indexOf(g.monthName.toLowerCase()) + 1 : n("month");
  const [day, hour, minute, second, zoneH, zoneM] = [
    n("day"),
    n("hour"),
    n("minute"),
    n("second"),
    n("zoneH"),
    n("zoneM"),
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || zoneH > 23 || zoneM > 59) return undefined;
  const t = new Date(0);
  // setUTCFullYear, not Date.UTC: that reads years 0-99 as 1900-1999.
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(hour, minute, second, Number((g.fraction ?? "").slice(0, 3).padEnd(3, "0")));
  return t.getTime() - (g.sign === "-" ? -1 : 1) * (zoneH * 60 + zoneM) * 60_000;
}

/** A time in one of `TIME_FORMATS` as milliseconds since the epoch; undefined if it is not one. */
export function parseTime(text: string): number | undefined {
  const groups = (ISO.exec(text) ?? RFC.exec(text))?.groups;
  return groups ? instant(groups) : undefined;
}

// 12, 12.5, .5, +7, 1.5e1: not 0x1A, 0b11, Infinity or 1,5 (`Number` reads the first three).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A decimal number, or undefined if the text is not one (or is too large to be finite). */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

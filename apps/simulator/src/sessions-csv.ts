/**
 * Real sessions from a CSV in ACN-Data's layout, streamed (see csv-lines.ts) and checked row by row: every
 * problem is a `ScenarioError` naming the file, the line and the field, which `bun run simulate` prints and
 * exits 2 on.
 *
 * Columns honoured (others, e.g. ACN's `siteID`, `doneChargingTime`, `userInputs`, are ignored):
 * - `connectionTime`, `disconnectTime` (required): ISO 8601 (UTC unless it names a zone) or ACN's RFC 1123
 *   (`Wed, 25 Apr 2018 11:08:04 GMT`, its zone required), see csv-values.ts;
 * - `kWhDelivered` (required): what the car received is what it wants in the replay, a decimal number in
 *   (0, MAX_ENERGY_KWH] (the API's bound on a session's energy);
 * - `stationID` (optional): the EVSE it was plugged into; two sessions overlapping on one station are refused;
 * - `sessionID` (optional): carried to sessions.csv's `session_id` untouched, for a join back to this file;
 *   one id on two rows is refused;
 * - `maxKw` or `maxPowerKw` (optional): the car's maximum power, kW, instead of the drawn vehicle kind's; an
 *   empty cell is unknown, that car's kind drawn as without the column (ACN's exports have no such column;
 *   its `userInputs` carry energy and departure requests, not power).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { MAX_ENERGY_KWH } from "@evgrid/contract";
import { type Arrival, byArrival, generateArrivals, Random, vehicleAt } from "./arrivals.ts";
import { CsvReadError, csvRecords, linesOf } from "./csv-lines.ts";
import { named, parseDecimal, parseTime, shown, TIME_FORMATS } from "./csv-values.ts";
import { MAX_VEHICLE_KW, type Scenario, ScenarioError } from "./scenario.ts";

const DAY_MIN = 24 * 60;
const REQUIRED = ["connectionTime", "disconnectTime", "kWhDelivered"] as const;

interface Row {
  startMs: number;
  endMs: number;
  kwh: number;
  stationId: string | undefined;
  sessionId: string | undefined;
  maxKw: number | undefined;
  /** Where its record begins and ends in the file. */
  line: number;
  lastLine: number;
}

interface Columns {
  connectionTime: number;
  disconnectTime: number;
  kWhDelivered: number;
  stationID: number;
  sessionID: number;
  maxKw: number;
  /** The header's. */
  count: number;
}

function columnsOf(header: string[], where: string, path: string): Columns {
  const at = (name: string) => header.indexOf(name);
  for (const name of REQUIRED) {
    if (at(name) < 0)
      throw new ScenarioError(
        `${path} ${where}: no column "${name}" (required: ${REQUIRED.join(", ")}; the header has: ${header.map(named).join(", ")})`,
      );
  }
  return {
    connectionTime: at("connectionTime"),
    disconnectTime: at("disconnectTime"),
    kWhDelivered: at("kWhDelivered"),
    stationID: at("stationID"),
    sessionID: at("sessionID"),
    maxKw: at("maxKw") >= 0 ? at("maxKw") : at("maxPowerKw"),
    count: header.length,
  };
}

/** One data row checked; `fail` names the field. */
function rowOf(
  fields: string[],
  at: { line: number; lastLine: number },
  c: Columns,
  maxDwellH: number,
  fail: (m: string) => never,
): Row {
  // A short row is named by the field it lacks; a long one would have its fields out of place or lost.
  if (fields.length > c.count)
    fail(`${fields.length} fields, the header has ${c.count} (a comma in a field unquoted?)`);
  const date = (name: "connectionTime" | "disconnectTime") => {
    const text = fields[c[name]];
    if (text === undefined || text === "") fail(`${name} is missing`);
    const ms = parseTime(text);
    if (ms === undefined) fail(`${name} is not a date: ${shown(text)} (${TIME_FORMATS})`);
    return ms;
  };
  const startMs = date("connectionTime");
  const endMs = date("disconnectTime");
  if (endMs <= startMs) fail("disconnectTime must be after connectionTime");
  const dwellH = (endMs - startMs) / 3_600_000;
  if (dwellH > maxDwellH)
    fail(
      `the session lasts ${dwellH >= 48 ? `${(dwellH / 24).toFixed(1)} days` : `${dwellH.toFixed(1)} h`} (disconnectTime - connectionTime), over maxDwellH ${maxDwellH} h`,
    );
  const kwhText = fields[c.kWhDelivered];
  if (kwhText === undefined || kwhText === "") fail("kWhDelivered is missing");
  const kwh = parseDecimal(kwhText);
  if (kwh === undefined) fail(`kWhDelivered is not a number: ${shown(kwhText)} (decimal, such as 12.5)`);
  if (kwh <= 0) fail("kWhDelivered must be positive");
  if (kwh > MAX_ENERGY_KWH)
    fail(
      `kWhDelivered must be at most ${MAX_ENERGY_KWH} kWh: ${shown(kwhText)} (the API's bound on a session)`,
    );
  let maxKw: number | undefined;
  const maxText = c.maxKw >= 0 ? fields[c.maxKw] : undefined;
  if (maxText !== undefined && maxText !== "") {
    maxKw = parseDecimal(maxText);
    if (maxKw === undefined || maxKw <= 0 || maxKw > MAX_VEHICLE_KW)
      fail(`maxKw must be a number in (0, ${MAX_VEHICLE_KW}] kW: ${shown(maxText)}`);
  }
  const station = c.stationID >= 0 ? fields[c.stationID] : undefined;
  const session = c.sessionID >= 0 ? fields[c.sessionID] : undefined;
  return {
    startMs,
    endMs,
    kwh,
    stationId: station || undefined,
    sessionId: session || undefined,
    maxKw,
    line: at.line,
    lastLine: at.lastLine,
  };
}

/**
 * One sessionID on two rows is bad data (an export merged or appended twice), and sessions.csv's `session_id`
 * would join two results to one input row: refuse it, naming the first repeat in the file and the row it
 * repeats. Found by sorting the indexes of the rows with an id (4 bytes a row, for the moment of the check,
 * about 0.2 s at 1,000,000 short ids) rather than a Set or Map of them kept while reading (45-55 bytes a row).
 */
function refuseDuplicateIds(rows: readonly Row[], path: string) {
  let count = 0;
  for (const r of rows) if (r.sessionId !== undefined) count += 1;
  const order = new Uint32Array(count);
  count = 0;
  for (const [i, r] of rows.entries()) if (r.sessionId !== undefined) order[count++] = i;
  const id = (i: number) => (rows[i] as Row).sessionId as string;
  order.sort((x, y) => (id(x) < id(y) ? -1 : id(x) > id(y) ? 1 : x - y));
  let repeat: { first: number; again: number } | undefined;
  for (let k = 1, first = order[0] as number; k < order.length; k++) {
    const at = order[k] as number;
    if (id(at) !== id(first)) first = at;
    else if (repeat === undefined || at < repeat.again) repeat = { first, again: at };
  }
  if (repeat)
    throw new ScenarioError(
      `${path} ${linesOf(rows[repeat.again] as Row)}: sessionID ${named(id(repeat.again))} repeats the session on ${linesOf(rows[repeat.first] as Row)} (each sessionID once: sessions.csv's session_id joins back to it)`,
    );
}

/** Two sessions on one EVSE at once is bad data (a missed disconnect, a merged export): refuse it. */
function refuseOverlaps(rows: readonly Row[], path: string) {
  const byStation = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.stationId === undefined) continue;
    const list = byStation.get(r.stationId);
    if (list) list.push(r);
    else byStation.set(r.stationId, [r]);
  }
  for (const [station, list] of byStation) {
    list.sort((a, b) => a.startMs - b.startMs || a.line - b.line);
    for (let i = 1; i < list.length; i++) {
      const before = list[i - 1] as Row;
      const r = list[i] as Row;
      if (r.startMs < before.endMs)
        throw new ScenarioError(
          `${path} ${linesOf(r)}: stationID ${named(station)} is still in use by the session on ${linesOf(before)} (until ${new Date(before.endMs).toISOString()})`,
        );
    }
  }
}

/**
 * The sessions as arrivals. Times are placed on one day by their time of day relative to the first
 * session's midnight (UTC); the vehicle kind (power) is drawn from the mix unless the row gives `maxKw`.
 */
export function readSessionsCsv(s: Scenario, dir: string): Arrival[] {
  const path = resolve(dir, s.sessionsCsv as string);
  let bytes: number;
  try {
    bytes = statSync(path).size;
  } catch (err) {
    throw new ScenarioError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (bytes > s.maxCsvMb * 1024 * 1024)
    throw new ScenarioError(
      `${path} is ${bytes.toLocaleString("en-US")} bytes, over the limit of ${s.maxCsvMb} MB (${Math.floor(s.maxCsvMb * 1024 * 1024).toLocaleString("en-US")} bytes; maxCsvMb in the scenario)`,
    );
  const rows: Row[] = [];
  let columns: Columns | undefined;
  try {
    for (const record of csvRecords(path)) {
      if (!columns) {
        columns = columnsOf(record.fields, linesOf(record), path);
        continue;
      }
      const fail = (m: string): never => {
        throw new ScenarioError(`${path} ${linesOf(record)}: ${m}`);
      };
      rows.push(rowOf(record.fields, record, columns, s.maxDwellH, fail));
    }
  } catch (err) {
    if (err instanceof CsvReadError) throw new ScenarioError(`${path} line ${err.line}: ${err.message}`);
    if (err instanceof ScenarioError) throw err;
    throw new ScenarioError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (rows.length === 0) throw new ScenarioError(`${path}: no sessions`);
  refuseDuplicateIds(rows, path);
  refuseOverlaps(rows, path);
  // A loop, not Math.min(...rows): a spread over 800,000 rows overflows the call stack.
  let first = Number.POSITIVE_INFINITY;
  for (const r of rows) first = Math.min(first, r.startMs);
  const midnight = first - (first % 86_400_000);
  const random = new Random(s.seed);
  const out: Arrival[] = [];
  // In file order (rows are), so the same file and seed draw the same vehicles.
  for (const [i, r] of rows.entries()) {
    const arriveMin = ((((r.startMs - midnight) / 60_000) % DAY_MIN) + DAY_MIN) % DAY_MIN;
    const a = vehicleAt(s, random, i, arriveMin, arriveMin + (r.endMs - r.startMs) / 60_000, r.kwh);
    if (r.maxKw !== undefined) {
      a.maxKw = r.maxKw;
      a.minKw = Math.min(a.minKw, r.maxKw);
    }
    if (r.stationId !== undefined) a.stationId = r.stationId;
    if (r.sessionId !== undefined) a.sessionId = r.sessionId;
    out.push(a);
  }
  return out.sort(byArrival);
}

/** The day's arrivals: the scenario's sessions CSV (its path relative to `dir`), or else its Poisson process. */
export const scenarioArrivals = (s: Scenario, dir: string): Arrival[] =>
  s.sessionsCsv ? readSessionsCsv(s, dir) : generateArrivals(s);

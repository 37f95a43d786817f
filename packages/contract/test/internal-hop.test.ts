/**
 * asCheckedDispatchRequest (src/internal-hop.ts) lets an internal hop skip the full schema for a request
 * already checked where it entered the grid. Two promises, each over seeded random requests, with the clock
 * held still so both sides read the same now:
 * - whatever it takes, the schema takes too, and returns unchanged (so a hop answers as the schema would);
 * - it takes every request the schema has made (so the hops really skip it).
 */
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import fc from "fast-check";
import { chargeRequestSchema, dispatchRequestSchema, MAX_DEPART_IN_S } from "../src/charge.ts";
import { asCheckedDispatchRequest } from "../src/internal-hop.ts";

const NOW_MS = Date.parse("2026-12-03T12:00:00.000Z");
beforeAll(() => setSystemTime(new Date(NOW_MS)));
afterAll(() => setSystemTime());

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`internal-hop: seed ${seed} (FUZZ_SEED=${seed} replays it)`);

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const kw = fc.double({ min: 0.5, max: 400, noNaN: true });
const id = fc.stringMatching(/^[A-Za-z0-9._:-]{0,70}$/);
/** Departures as a caller may write them: canonical or not, near the bounds, past, offset or malformed. */
const departAt = fc.oneof(
  fc
    .integer({ min: -3600, max: MAX_DEPART_IN_S + 3600 })
    .map((s) => new Date(NOW_MS + s * 1000).toISOString()),
  fc
    .integer({ min: 60, max: 86_400 })
    .map((s) => new Date(NOW_MS + s * 1000).toISOString().replace(".000Z", "Z")),
  // Just inside and just outside the week, and just past.
  fc
    .constantFrom(-1, 0, 1, MAX_DEPART_IN_S - 1, MAX_DEPART_IN_S, MAX_DEPART_IN_S + 1)
    .map((s) => new Date(NOW_MS + s * 1000).toISOString()),
  // Canonical in form, not in fact: no such hour, day or second.
  fc.constantFrom(
    "2026-12-04T24:00:00.000Z",
    "2026-02-30T10:00:00.000Z",
    "2026-12-31T23:59:60.000Z",
    "2026-12-04T12:00:00+02:00",
    "2026-12-03T13:00:00.000+00:00",
  ),
  fc.string({ maxLength: 30 }),
);

/** A request as a caller might send it to the grid, the schema's rules mostly kept. */
const validKw = fc.double({ min: 1, max: 350, noNaN: true });
const valid = fc
  .record(
    {
      vehicleId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
      maxKw: optional(fc.oneof(validKw, fc.constant(350))),
      minKw: optional(fc.oneof(fc.constant(1), fc.double({ min: 1, max: 4.2, noNaN: true }))),
      owner: optional(fc.constantFrom("operator", "key:0123456789abcdef", "addr:203.0.113.9")),
      idempotencyKey: optional(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/)),
      waitS: optional(fc.double({ min: 0.001, max: 300, noNaN: true })),
      priority: optional(fc.constantFrom("standard", "fleet", "emergency")),
      substationId: optional(fc.constant("substation-1")),
      capKw: optional(validKw),
      movedFrom: optional(fc.stringMatching(/^substation-2\.[0-9a-f]{32}$/)),
      newKey: optional(fc.constant(true as const)),
    },
    { requiredKeys: ["vehicleId"] },
  )
  .chain((base) =>
    fc
      .oneof(
        fc.record({ durationS: optional(fc.double({ min: 0.001, max: 86_400, noNaN: true })) }),
        fc.record({
          energyKwh: fc.double({ min: 0.001, max: 1000, noNaN: true }),
          departAt: optional(departAt),
          strict: optional(fc.boolean()),
        }),
        fc.record({
          energyKwh: fc.double({ min: 0.001, max: 1000, noNaN: true }),
          departInS: fc.integer({ min: 1, max: MAX_DEPART_IN_S }),
        }),
      )
      .map((end) => ({ ...base, ...end })),
  );

/** Anything near the rules: out of range, both ends given, malformed. */
const wild = fc.record(
  {
    vehicleId: id,
    maxKw: optional(kw),
    minKw: optional(kw),
    owner: optional(
      fc.constantFrom("operator", "key:0123456789abcdef", "addr:203.0.113.9", "addr:", "nobody"),
    ),
    idempotencyKey: optional(id),
    waitS: optional(fc.double({ min: -1, max: 400, noNaN: true })),
    priority: optional(fc.constantFrom("standard", "fleet", "emergency", "vip")),
    durationS: optional(fc.double({ min: -1, max: 90_000, noNaN: true })),
    energyKwh: optional(fc.double({ min: -1, max: 1100, noNaN: true })),
    departAt: optional(departAt),
    departInS: optional(fc.integer({ min: -5, max: MAX_DEPART_IN_S + 5 })),
    strict: optional(fc.boolean()),
    substationId: optional(fc.constantFrom("substation-1", "Bad Id", "-x")),
    capKw: optional(kw),
    movedFrom: optional(fc.oneof(fc.stringMatching(/^[a-z0-9-]{0,50}\.[0-9a-fA-F]{30,34}$/), id)),
    newKey: optional(fc.constantFrom<unknown>(true, false, "true", 1, null)),
  },
  { requiredKeys: ["vehicleId"] },
);
const request = fc.oneof(valid, wild);

/** A checked request (the schema's output) with one field changed to anything, or one key added. */
const KEYS = [
  "vehicleId",
  "maxKw",
  "minKw",
  "owner",
  "waitS",
  "priority",
  "durationS",
  "energyKwh",
  "departAt",
];
const tampered = fc.tuple(
  valid,
  fc.constantFrom(...KEYS, "strict", "capKw", "movedFrom", "newKey", "departInS", "__proto__", "extra"),
  fc.oneof(fc.anything(), kw, fc.constant(undefined), fc.constant(Number.POSITIVE_INFINITY)),
);

/** As the entry checked it (if it could) and a link carries it: JSON. */
const checkedAndCarried = (input: unknown): unknown => {
  const parsed = dispatchRequestSchema.safeParse(input);
  return JSON.parse(JSON.stringify(parsed.success ? parsed.data : input));
};

/** A checked request with one key set to a value (a "__proto__" key as JSON.parse makes it: its own). */
const tamper = ([base, key, value]: [unknown, string, unknown]): unknown => {
  const input = checkedAndCarried(base) as object;
  Object.defineProperty(input, key, { value, enumerable: true, configurable: true, writable: true });
  return input;
};

describe("a dispatch request checked where it entered, on an internal hop", () => {
  test("what the one-pass check takes, the schema takes and returns unchanged", () => {
    let taken = 0;
    fc.assert(
      fc.property(fc.oneof(request, valid.map(checkedAndCarried), tampered.map(tamper)), (input) => {
        const fast = asCheckedDispatchRequest(input);
        if (fast === undefined) return;
        taken += 1;
        const full = dispatchRequestSchema.safeParse(input);
        expect(full.success).toBe(true);
        expect(fast).toEqual(full.data as typeof fast);
        expect(Object.keys(fast).sort()).toEqual(Object.keys(full.data ?? {}).sort());
      }),
      { seed, numRuns: 3000 },
    );
    // The generators reach the fast path often enough for the property to say something.
    expect(taken).toBeGreaterThan(300);
  });

  test("every request the schema has checked is taken as it is, after a trip through JSON", () => {
    let checked = 0;
    fc.assert(
      fc.property(request, (input) => {
        const parsed = dispatchRequestSchema.safeParse(input);
        if (!parsed.success) return;
        checked += 1;
        const carried = JSON.parse(JSON.stringify(parsed.data));
        expect(asCheckedDispatchRequest(carried)).toEqual(parsed.data);
      }),
      { seed, numRuns: 3000 },
    );
    expect(checked).toBeGreaterThan(1000);
  });

  test("a public request as the charge-api passes it on (its owner, a key made for it) is taken", () => {
    for (const input of [
      { vehicleId: "ev-1" },
      { vehicleId: "ev-2", energyKwh: 30, departInS: 7200, maxKw: 22, priority: "fleet" as const, waitS: 5 },
    ]) {
      const req = {
        ...chargeRequestSchema.parse(input),
        owner: "addr:203.0.113.9",
        idempotencyKey: `auto:${Bun.randomUUIDv7()}`,
      };
      expect(asCheckedDispatchRequest(JSON.parse(JSON.stringify(req)))).toEqual(req);
    }
  });

  test("a departure gone by, bad input or a default not filled in goes to the full schema", () => {
    const checked = dispatchRequestSchema.parse({ vehicleId: "ev-1", energyKwh: 20, departInS: 3600 });
    expect(asCheckedDispatchRequest(checked)).toEqual(checked);
    expect(asCheckedDispatchRequest(checked, NOW_MS + 2 * 3600_000)).toBeUndefined();
    expect(asCheckedDispatchRequest({ ...checked, minKw: 12 })).toBeUndefined();
    expect(asCheckedDispatchRequest({ vehicleId: "ev-1", durationS: 60 })).toBeUndefined();
    expect(asCheckedDispatchRequest({ ...checked, priority: "standard" })).toBeUndefined();
    expect(asCheckedDispatchRequest([checked])).toBeUndefined();
  });
});

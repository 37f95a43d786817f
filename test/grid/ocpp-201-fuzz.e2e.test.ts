/**
 * A seeded random history of OCPP 2.0.1 frames from two charge points (well-formed TransactionEvents over a
 * small domain of ids, EVSEs, tokens and meters, and mutated ones), as the 1.6 fuzz does for
 * StartTransaction: never an InternalError, and afterwards the substation's sessions are exactly the ones
 * bound to the gateway's open transactions. The seed is printed; FUZZ_SEED=<seed> replays a run.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { eventually, SimulatedChargePoint } from "@evgrid/testing";
import fc from "fast-check";
import { PASSWORD, rawGateway } from "./ocpp-raw.ts";

setDefaultTimeout(120_000);

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const now = new Date().toISOString();
const vehicle = fc.constantFrom("ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "bad tag!", "");
const sampled = (value: fc.Arbitrary<unknown>) =>
  fc.record(
    {
      value,
      measurand: fc.constantFrom("Energy.Active.Import.Register", "Power.Active.Import", "Voltage"),
      unitOfMeasure: fc.record({ unit: fc.constantFrom("Wh", "kWh", "W", "kW") }),
    },
    { requiredKeys: ["value"] },
  );
/** Mostly valid readings (any number: negative, huge, backwards), sometimes ones the schema refuses. */
const meterValue = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(
      fc.record({
        timestamp: fc.constant(now),
        sampledValue: fc.array(
          sampled(
            fc.oneof(fc.double({ min: -1e6, max: 1e12, noNaN: true }), fc.integer({ min: 0, max: 1e5 })),
          ),
          { minLength: 1, maxLength: 3 },
        ),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.array(
      fc.record({
        timestamp: fc.constantFrom(now, "yesterday"),
        sampledValue: fc.array(sampled(fc.constantFrom("12", null, -0)), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    ),
  },
);
const transactionEvent = fc.record(
  {
    eventType: fc.constantFrom("Started", "Updated", "Ended"),
    timestamp: fc.constant(now),
    triggerReason: fc.constantFrom("Authorized", "MeterValuePeriodic", "StopAuthorized", "EVDetected"),
    seqNo: fc.oneof(
      { weight: 9, arbitrary: fc.nat(20) },
      { weight: 1, arbitrary: fc.constantFrom(-1, 2 ** 31) },
    ),
    offline: fc.boolean(),
    transactionInfo: fc.record({
      transactionId: fc.constantFrom("t-1", "t-2", "t-3", "t-4", "t-5", "t-6"),
    }),
    idToken: fc.record({ idToken: vehicle, type: fc.constantFrom("Central", "ISO14443", "NoAuthorization") }),
    evse: fc.record(
      { id: fc.integer({ min: 1, max: 3 }), connectorId: fc.integer({ min: 1, max: 2 }) },
      { requiredKeys: ["id"] },
    ),
    meterValue,
  },
  { requiredKeys: ["eventType", "timestamp", "triggerReason", "seqNo", "transactionInfo"] },
);
type Message = readonly [string, unknown];
const other: fc.Arbitrary<Message> = fc.oneof<fc.Arbitrary<Message>[]>(
  fc.record({ evseId: fc.integer({ min: 0, max: 3 }), meterValue }).map((p) => ["MeterValues", p] as const),
  fc
    .record({
      timestamp: fc.constant(now),
      connectorStatus: fc.constantFrom("Available", "Occupied", "Faulted"),
      evseId: fc.integer({ min: 0, max: 3 }),
      connectorId: fc.constant(1),
    })
    .map((p) => ["StatusNotification", p] as const),
  fc
    .record({ idToken: fc.record({ idToken: vehicle, type: fc.constant("Central") }) })
    .map((p) => ["Authorize", p] as const),
);
/** One step: which charger, and a well-formed TransactionEvent, another message, or a mutated event. */
const step = fc.record({
  charger: fc.nat(1),
  message: fc.oneof<fc.WeightedArbitrary<Message>[]>(
    { weight: 6, arbitrary: transactionEvent.map((p) => ["TransactionEvent", p] as const) },
    { weight: 2, arbitrary: other },
    {
      weight: 2,
      arbitrary: fc
        .tuple(transactionEvent, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))
        .map(([p, key, value]) => ["TransactionEvent", { ...p, [key]: value }] as const),
    },
  ),
});

test("fuzz: 600 seeded 2.0.1 frames, 0 internal errors, grid and gateway agree afterwards", async () => {
  console.log(`ocpp 2.0.1 fuzz: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  // Floods on purpose: no bound on bad messages or on the message rate.
  await using s = await rawGateway({
    OCPP_MAX_BAD_MESSAGES: "100000",
    OCPP_MESSAGE_BURST: "10000000",
    OCPP_OFFLINE_GRACE_S: "2",
  });
  const chargers = [await s.raw201("cp-fuzz-a"), await s.raw201("cp-fuzz-b")];
  const steps = fc.sample(step, { numRuns: 600, seed });
  const answers: Record<string, number> = {};
  const internal: string[] = [];
  for (const [i, { charger, message }] of steps.entries()) {
    const [action, payload] = message;
    const answer = await (chargers[charger] as (typeof chargers)[number]).call(action, payload, `f-${i}`);
    const key = answer === null ? "none" : answer[0] === 3 ? "result" : String(answer[2]);
    answers[key] = (answers[key] ?? 0) + 1;
    if (key === "InternalError" || key === "none") internal.push(`#${i} ${key}: ${JSON.stringify(message)}`);
  }
  console.log(`ocpp 2.0.1 fuzz (seed ${seed}): answers ${JSON.stringify(answers)}`);
  expect(internal).toEqual([]);
  for (const c of chargers) expect(c.closed).toBeNull();
  expect(answers.result ?? 0).toBeGreaterThan(150);

  // Every transaction settles, and the substation's active sessions are exactly those bound to open ones.
  for (const c of chargers) c.ws.close();
  await eventually(
    async () => {
      const books = await s.booksAgree();
      expect(books.unsettled).toBe(0);
      expect(books.active).toEqual(books.bound);
    },
    { timeoutMs: 10_000 },
  );
  expect(s.grid.substations[0]?.station.load().allocatedKw ?? 0).toBeLessThanOrEqual(40 + 1e-9);
  // A well-behaved 2.0.1 charger is still served and gets its power (a charge point of its own: the fuzzed
  // ones keep their transactions, and their power, through the offline grace).
  await s.ocpp.admin.registerChargePoint.mutate({
    chargePointId: "cp-fuzz-good",
    substationId: "substation-1",
    password: PASSWORD,
    maxKw: 11,
  });
  const good = new SimulatedChargePoint({
    url: s.ocpp.gateway.ocppUrl,
    id: "cp-fuzz-good",
    password: PASSWORD,
    protocol: "ocpp2.0.1",
  });
  await good.connect();
  await good.startTransaction(1, "ev-good");
  // Served: bound to a session and given power (once the fuzzed transactions' offline grace is over, their
  // limits that were never acknowledged no longer count: break before make).
  await eventually(
    async () => {
      const listed = await s.ocpp.admin.listChargePoints.query();
      const state = listed.find((c) => c.chargePointId === "cp-fuzz-good")?.transactions[0]?.state;
      expect(state).toBe("charging");
      expect(good.limit(1) ?? 0).toBeGreaterThan(0);
    },
    { timeoutMs: 20_000 },
  );
  await good.close();
});

/**
 * Calls on an authenticated internal link run their procedure prepared once (packages/kit/src/prepared.ts)
 * instead of tRPC's middleware chain. They must answer exactly as the chain does: the same data, the same
 * error shape (code, reason, message, fields) for every way a call can fail, bad input above all, and the
 * same metric points. Every internal procedure of the substation and the balancer, both ways.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { balancerRouter } from "@evgrid/balancer/router";
import { chargeApiRouter } from "@evgrid/charge-api/router";
import { ApiKeys, prepareInternal, type RequestContext, type RpcObservability } from "@evgrid/kit";
import { type CallSignal, resolveProcedures } from "@evgrid/link";
import { substationRouter } from "@evgrid/substation/router";
import type { AnyRouter } from "@trpc/server";
import fc from "fast-check";
import { type Call, calls, outcome, recordingObs, SESSION, startTakenGrid } from "./equivalence-cases.ts";

type App = "substation" | "balancer";
let grid: Awaited<ReturnType<typeof startTakenGrid>>;
let routers: Record<App, AnyRouter>;

beforeAll(async () => {
  grid = await startTakenGrid();
  const { station, bookings } = grid.substations[0] as (typeof grid.substations)[number];
  routers = {
    substation: substationRouter(station, bookings),
    balancer: balancerRouter(grid.balancer.dispatcher),
  };
});
afterAll(() => grid?.[Symbol.asyncDispose]());

/** A call's context on an internal link, as the app server builds it. */
const onLink = (obs: RpcObservability): RequestContext => ({
  req: null,
  link: { traceparent: undefined, tracestate: undefined },
  obs,
  serviceToken: grid.serviceToken,
  apiKeys: new ApiKeys([]),
  clientAddress: null,
  deadlineAtMs: null,
});

/** A procedure's prepared call, as the link server runs it. */
function preparedAt(app: App, path: string) {
  const prepared = resolveProcedures<RequestContext>(routers[app], prepareInternal)(path)?.prepared;
  if (!prepared) throw new Error(`${app} ${path}: not prepared`);
  return prepared;
}

const aCall = (): CallSignal => ({ signal: new AbortController().signal });

/** Bad input only a link can carry (JSON of the wrong kind), and calls the HTTP cases make with a body. */
const linkOnly = (): Call[] => [
  { name: "startSession, a string", app: "substation", method: "POST", path: "startSession", input: "x" },
  { name: "startSession, null", app: "substation", method: "POST", path: "startSession", input: null },
  { name: "setLimit, an array", app: "substation", method: "POST", path: "setLimit", input: [1] },
  { name: "getSession, no input", app: "balancer", method: "GET", path: "getSession" },
  { name: "dispatch, no input", app: "balancer", method: "POST", path: "dispatch" },
  { name: "dispatch, a number", app: "balancer", method: "POST", path: "dispatch", input: 7 },
  {
    name: "dispatch, fits",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "small-RUN", minKw: 1, maxKw: 2 },
  },
  {
    name: "stopSession, bad reason",
    app: "balancer",
    method: "POST",
    path: "stopSession",
    input: { sessionId: SESSION, reason: "bored" },
  },
];

/** A case's input, with RUN naming the run: a session one run starts must not refuse the other's. */
const forRun = (input: unknown, run: string): unknown =>
  input === undefined ? undefined : JSON.parse(JSON.stringify(input).replaceAll("RUN", run));

/** The HTTP cases that reach a procedure on a link: the token checks are the link's handshake's. */
const cases = () => [
  ...calls(grid.serviceToken).filter(
    (c) => (c.app === "substation" || c.app === "balancer") && c.raw === undefined && c.token !== undefined,
  ),
  ...linkOnly(),
];

describe("prepared internal calls answer as tRPC's middleware chain", () => {
  test("every internal procedure of the substation and the balancer is prepared; public ones are not", () => {
    for (const app of ["substation", "balancer"] as const) {
      const at = resolveProcedures<RequestContext>(routers[app], prepareInternal);
      for (const path of Object.keys(routers[app]._def.procedures)) {
        expect({ app, path, prepared: at(path)?.prepared !== undefined }).toEqual({
          app,
          path,
          prepared: true,
        });
      }
    }
    const api = resolveProcedures<RequestContext>(chargeApiRouter({} as never), prepareInternal);
    expect(api("requestCharge")?.prepared).toBeUndefined();
  });

  test("every case: same data or error shape (code, reason, message, fields), same metric points", async () => {
    const differences: string[] = [];
    let compared = 0;
    for (const c of cases()) {
      const router = routers[c.app as App];
      const at = resolveProcedures<RequestContext>(router, prepareInternal);
      const procedure = at(c.path);
      const prepared = preparedAt(c.app as App, c.path);
      if (!procedure) throw new Error(`${c.app} has no ${c.path}`);
      const chain = recordingObs();
      const viaChain = await outcome(router, c.path, procedure.type, () =>
        procedure.call(onLink(chain.obs), forRun(c.input, "chain"), undefined),
      );
      const lean = recordingObs();
      const viaPrepared = await outcome(router, c.path, procedure.type, () =>
        prepared(onLink(lean.obs), forRun(c.input, "prepared"), aCall()),
      );
      const a = JSON.stringify({ outcome: viaChain, points: chain.points });
      const b = JSON.stringify({ outcome: viaPrepared, points: lean.points });
      if (a !== b) differences.push(`${c.name}:\n  chain    ${a}\n  prepared ${b}`);
      compared += 1;
    }
    expect(differences).toEqual([]);
    // The cases do fail in the ways they mean to: bad input is refused by the schema, with its field.
    const bad = await outcome(routers.substation, "startSession", "mutation", () =>
      preparedAt("substation", "startSession")(
        onLink(recordingObs().obs),
        { vehicleId: "ev", maxKw: 999 },
        aCall(),
      ),
    );
    expect(bad).toMatchObject({
      error: {
        data: { code: "BAD_REQUEST", reason: "INVALID_INPUT", fieldErrors: { maxKw: [expect.any(String)] } },
      },
    });
    expect(compared).toBe(cases().length);
  });

  test("a dispatch that cannot wait reads no abort signal (no AbortController on the link); one that may wait does", async () => {
    const reads = { count: 0 };
    const counted = (): CallSignal => ({
      get signal() {
        reads.count += 1;
        return new AbortController().signal;
      },
    });
    const dispatch = preparedAt("balancer", "dispatch");
    await dispatch(onLink(recordingObs().obs), { vehicleId: "no-wait", minKw: 1, maxKw: 2 }, counted());
    expect(reads.count).toBe(0);
    // The big site is full: a request that may wait joins the queue, with the call's signal to leave it.
    const waited = await dispatch(
      onLink(recordingObs().obs),
      { vehicleId: "may-wait", minKw: 100, maxKw: 100, waitS: 0.5 },
      counted(),
    ).catch((err: unknown) => err);
    expect(waited).toBeInstanceOf(Error);
    expect(reads.count).toBe(1);
  });

  test("random inputs to the procedures that only read: the same answers and errors both ways (seeded)", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`prepared-link: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    // Values near each field's rules, and anything at all: most are refused, some pass.
    const value = fc.oneof(
      fc.constantFrom(
        SESSION,
        "substation-1",
        "ev-1",
        "operator",
        "key:0123456789abcdef",
        "all",
        "x".repeat(200),
      ),
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -5, max: 20_000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.anything({ maxDepth: 1 }),
    );
    const keys = [
      "sessionId",
      "owner",
      "vehicleId",
      "idTag",
      "idempotencyKey",
      "status",
      "limit",
      "__proto__",
      "x",
    ];
    const input = fc.oneof(
      fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }),
      value,
      fc.constant(undefined),
    );
    const reads: [App, string][] = [
      ["substation", "getSession"],
      ["substation", "findSession"],
      ["substation", "findBooking"],
      ["substation", "findKeySession"],
      ["substation", "listSessions"],
      ["balancer", "getSession"],
      ["balancer", "findVehicleSession"],
      ["balancer", "findBooking"],
    ];
    const call = fc.tuple(fc.constantFrom(...reads), input);
    const differences: string[] = [];
    for (const [[app, path], raw] of fc.sample(call, { numRuns: 300, seed })) {
      const procedure = resolveProcedures<RequestContext>(routers[app], prepareInternal)(path);
      if (!procedure) throw new Error(`${app} has no ${path}`);
      const chain = recordingObs();
      const lean = recordingObs();
      const a = JSON.stringify({
        outcome: await outcome(routers[app], path, procedure.type, () =>
          procedure.call(onLink(chain.obs), raw, undefined),
        ),
        points: chain.points,
      });
      const b = JSON.stringify({
        outcome: await outcome(routers[app], path, procedure.type, () =>
          preparedAt(app, path)(onLink(lean.obs), raw, aCall()),
        ),
        points: lean.points,
      });
      if (a !== b)
        differences.push(`${app}.${path}(${JSON.stringify(raw)}):\n  chain    ${a}\n  prepared ${b}`);
    }
    expect({ seed, differences: differences.slice(0, 3) }).toEqual({ seed, differences: [] });
  });
});

/**
 * Public queries and mutations on the lean HTTP path run prepared once (packages/kit/src/prepared.ts,
 * preparePublic) instead of tRPC's middleware chain: the caller identified, the charge-api's rate quota
 * counted, the input parsed, the handler. They must answer exactly as the chain does, in the same order (a
 * caller over its quota is refused before its input is read): the same data, the same error shape, the
 * same metric points. Every public case of the equivalence cases, a session's whole life, and a fuzz.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ApiKeys, preparePublic, type RequestContext, type RpcObservability } from "@evgrid/kit";
import { resolveProcedures } from "@evgrid/link";
import { substationRouter } from "@evgrid/substation/router";
import type { AnyRouter } from "@trpc/server";
import fc from "fast-check";
import {
  type Call,
  calls,
  chargeApis,
  KEY,
  outcome,
  recordingObs,
  SESSION,
  startTakenGrid,
} from "./equivalence-cases.ts";

type App = "chargeApi" | "keyedApi";
type Way = "chain" | "prepared";
let grid: Awaited<ReturnType<typeof startTakenGrid>>;
/** One set of routers per way, so that each has its own rate limiter. */
let routers: Record<Way, Record<App, AnyRouter>>;

beforeAll(async () => {
  grid = await startTakenGrid();
  const api = chargeApis(grid);
  // keyedApi: a caller with one request; its second is over the rate quota.
  const set = () => ({ chargeApi: api(1_000_000), keyedApi: api(1) });
  routers = { chain: set(), prepared: set() };
});
afterAll(() => grid?.[Symbol.asyncDispose]());

/** A public call's context, as the app server builds it for an HTTP request. */
function overHttp(app: App, obs: RpcObservability, token?: string): RequestContext {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    req: new Request("http://127.0.0.1/trpc/x", { method: "POST", headers }),
    link: null,
    obs,
    serviceToken: grid.serviceToken,
    apiKeys: new ApiKeys(app === "keyedApi" ? [KEY] : []),
    clientAddress: "203.0.113.9",
    deadlineAtMs: null,
  };
}

/** Runs one call one way; what its caller sees and the metric points it left. */
async function run(way: Way, app: App, path: string, input: unknown, token?: string) {
  const router = routers[way][app];
  const procedure = resolveProcedures<RequestContext>(router, preparePublic)(path);
  if (!procedure) throw new Error(`${app} has no ${path}`);
  const { obs, points } = recordingObs();
  const ctx = overHttp(app, obs, token);
  const { prepared } = procedure;
  if (way === "prepared" && !prepared) throw new Error(`${app} ${path}: not prepared`);
  let data: unknown;
  const seen = await outcome(router, path, procedure.type, async () => {
    data =
      way === "prepared" && prepared
        ? await prepared(ctx, input, { signal: new AbortController().signal })
        : await procedure.call(ctx, input, undefined);
    return data;
  });
  return { seen: JSON.stringify({ outcome: seen, points }), data: data as Record<string, unknown> };
}

describe("prepared public calls answer as tRPC's middleware chain", () => {
  test("the charge-api's queries and mutations are prepared; its subscription and internal procedures are not", () => {
    const at = resolveProcedures<RequestContext>(routers.chain.chargeApi, preparePublic);
    for (const path of ["requestCharge", "stopCharge", "getSession", "gridStatus"])
      expect({ path, prepared: at(path)?.prepared !== undefined }).toEqual({ path, prepared: true });
    expect(at("watchSession")?.prepared).toBeUndefined();
    const { station, bookings } = grid.substations[0] as (typeof grid.substations)[number];
    const internal = resolveProcedures<RequestContext>(substationRouter(station, bookings), preparePublic);
    expect(internal("startSession")?.prepared).toBeUndefined();
  });

  test("every public case, and a quota spent on bad input: same data or error shape, same metric points", async () => {
    const cases: Call[] = [
      ...calls(grid.serviceToken).filter((c) => c.app === "chargeApi" || c.app === "keyedApi"),
      // A fresh limiter for each way again: its first call passes, then bad input over the quota is refused
      // for the quota, not the input (the gate runs before the input is read).
      {
        name: "bad input over the quota",
        app: "keyedApi",
        method: "POST",
        path: "requestCharge",
        token: KEY,
      },
    ];
    const differences: string[] = [];
    for (const c of cases) {
      const input = c.input ?? (c.name === "bad input over the quota" ? { vehicleId: 7 } : undefined);
      const a = await run("chain", c.app as App, c.path, input, c.token);
      const b = await run("prepared", c.app as App, c.path, input, c.token);
      if (a.seen !== b.seen) differences.push(`${c.name}:\n  chain    ${a.seen}\n  prepared ${b.seen}`);
    }
    expect(differences).toEqual([]);
    const over = await run("prepared", "keyedApi", "requestCharge", { vehicleId: 7 }, KEY);
    expect(over.seen).toContain('"code":"TOO_MANY_REQUESTS"');
  });

  test("a session's whole life, both ways: admitted, read and stopped with its secret, refused without it", async () => {
    const life = async (way: Way) => {
      const started = await run(way, "chargeApi", "requestCharge", {
        vehicleId: `public-${way}`,
        minKw: 1,
        maxKw: 2,
        durationS: 600,
      });
      const ref = { sessionId: started.data.sessionId, sessionSecret: started.data.sessionSecret };
      const steps = [
        started.seen,
        (await run(way, "chargeApi", "getSession", ref)).seen,
        (await run(way, "chargeApi", "getSession", { sessionId: ref.sessionId })).seen,
        (await run(way, "chargeApi", "stopCharge", ref)).seen,
        (await run(way, "chargeApi", "getSession", ref, grid.serviceToken)).seen,
      ];
      return { steps, admitted: typeof ref.sessionId === "string" };
    };
    const [chain, prepared] = [await life("chain"), await life("prepared")];
    expect(prepared).toEqual(chain);
    expect(prepared.admitted).toBe(true);
  });

  test("random inputs to every prepared procedure: the same answers and errors both ways (seeded)", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`prepared-public: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    const value = fc.oneof(
      fc.constantFrom(SESSION, "ev-1", "operator", "x".repeat(200), 4.2, 0, -1, 1e9),
      fc.string({ maxLength: 12 }),
      fc.double(),
      fc.constant(null),
      fc.anything({ maxDepth: 1 }),
    );
    const keys = ["sessionId", "sessionSecret", "vehicleId", "maxKw", "minKw", "energyKwh", "__proto__", "x"];
    const input = fc.oneof(fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 4 }), value);
    const paths = ["requestCharge", "stopCharge", "getSession", "gridStatus"];
    const call = fc.tuple(fc.constantFrom(...paths), input, fc.constantFrom(undefined, grid.serviceToken));
    const differences: string[] = [];
    for (const [path, raw, token] of fc.sample(call, { numRuns: 200, seed })) {
      // Both ways share one grid: a request is made one that no schema admits (an unknown field), so one
      // way's admission cannot refuse the other's. Its other fields' errors are still all reported.
      const sent =
        path === "requestCharge" && raw !== null && typeof raw === "object" ? { ...raw, x: 1 } : raw;
      const a = await run("chain", "chargeApi", path, sent, token);
      const b = await run("prepared", "chargeApi", path, sent, token);
      if (a.seen !== b.seen)
        differences.push(`${path}(${JSON.stringify(sent)}):\n  chain    ${a.seen}\n  prepared ${b.seen}`);
    }
    expect({ seed, differences: differences.slice(0, 3) }).toEqual({ seed, differences: [] });
  });
});

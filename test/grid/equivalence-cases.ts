/**
 * The calls both equivalence tests make (lean-http.test.ts: the lean HTTP path against tRPC's fetch adapter;
 * prepared-link.test.ts: prepared internal calls against tRPC's middleware chain): each procedure of each
 * app, and each way it can succeed or fail.
 */
import type { BalancerRouter } from "@evgrid/balancer";
import { balancerPool } from "@evgrid/balancer/pool";
import { ChargeDesk } from "@evgrid/charge-api/desk";
import { RateLimiter } from "@evgrid/charge-api/rate-limit";
import { chargeApiRouter } from "@evgrid/charge-api/router";
import { dispatchRequestSchema } from "@evgrid/contract";
import type { RpcObservability } from "@evgrid/kit";
import { errorShapeOf, internalClient } from "@evgrid/link";
import { startGrid } from "@evgrid/testing";
import type { AnyRouter, TRPCError } from "@trpc/server";

/**
 * The grid both tests call, which the calls below assume: its big site is taken, so any minimum above 4.2 kW
 * finds the grid full, however often it is asked.
 */
export async function startTakenGrid() {
  const grid = await startGrid({ capacitiesKw: [150, 4.2], defaultQuotas: true });
  try {
    const { station } = grid.substations[0] as (typeof grid.substations)[number];
    await station.start(
      dispatchRequestSchema.parse({ vehicleId: "resident", minKw: 150, maxKw: 150, durationS: 3600 }),
    );
    await grid.balancer.view.refresh();
    return grid;
  } catch (err) {
    await grid[Symbol.asyncDispose]();
    throw err;
  }
}

/** Charge-api routers over the grid's balancer, each with a rate limiter of its own: `burst` calls, then 429. */
export function chargeApis(grid: { balancer: { url: string }; serviceToken: string }) {
  const balancer = balancerPool([grid.balancer.url], (url) =>
    internalClient<BalancerRouter>(url, { timeoutMs: 5000, token: grid.serviceToken }),
  );
  const desk = (burst: number) =>
    new ChargeDesk(balancer, {
      callTimeoutMs: 5000,
      serviceToken: grid.serviceToken,
      rate: new RateLimiter({ ratePerS: 0.001, burst }),
      maxWaiting: 10,
    });
  return (burst: number): AnyRouter => chargeApiRouter(desk(burst));
}

/** An app's observability whose histogram remembers every point it was given. */
export function recordingObs() {
  const points: unknown[] = [];
  const histogram = {
    record: (_s: number, attributes: unknown) => points.push({ ...(attributes as object) }),
  };
  const obs = {
    service: "test",
    telemetry: { tracing: false },
    serverDuration: histogram,
    clientDuration: histogram,
    procedures: new Map(),
  } as unknown as RpcObservability;
  return { obs, points };
}

/** What its caller sees: the data's shape (calls ran twice, a version may differ), or the error's shape. */
export async function outcome(router: AnyRouter, path: string, type: string, run: () => Promise<unknown>) {
  try {
    const data = await run();
    return { data: data !== null && typeof data === "object" ? Object.keys(data).sort() : typeof data };
  } catch (err) {
    return { error: errorShapeOf(router, err as TRPCError, path, type as "query") };
  }
}

export interface Call {
  name: string;
  app: "substation" | "balancer" | "chargeApi" | "keyedApi";
  method: "GET" | "POST";
  path: string;
  /** Query input (GET, in ?input=) or raw body (POST). */
  input?: unknown;
  /** Raw ?input= text, instead of `input`. */
  query?: string;
  raw?: string;
  token?: string;
}

export const KEY = "a-key-0123456789abcdef";
export const SESSION = `substation-1.${"0".repeat(32)}`;
/** Each case: a procedure, and one way it succeeds or fails. */
export const calls = (serviceToken: string): Call[] => [
  // substation (internal)
  { name: "getLoad", app: "substation", method: "GET", path: "getLoad", token: serviceToken },
  { name: "getLoad without the token", app: "substation", method: "GET", path: "getLoad" },
  {
    name: "getLoad with a wrong token",
    app: "substation",
    method: "GET",
    path: "getLoad",
    token: "x".repeat(20),
  },
  {
    name: "listSessions",
    app: "substation",
    method: "GET",
    path: "listSessions",
    input: { status: "all" },
    token: serviceToken,
  },
  {
    name: "listSessions, bad status",
    app: "substation",
    method: "GET",
    path: "listSessions",
    input: { status: "x" },
    token: serviceToken,
  },
  {
    name: "getSession unknown",
    app: "substation",
    method: "GET",
    path: "getSession",
    input: { sessionId: SESSION },
    token: serviceToken,
  },
  {
    name: "getSession malformed id",
    app: "substation",
    method: "GET",
    path: "getSession",
    input: { sessionId: "../x" },
    token: serviceToken,
  },
  { name: "getSession no input", app: "substation", method: "GET", path: "getSession", token: serviceToken },
  {
    name: "getSession ?input not JSON",
    app: "substation",
    method: "GET",
    path: "getSession",
    token: serviceToken,
    query: "{nope",
  },
  {
    name: "startSession invalid",
    app: "substation",
    method: "POST",
    path: "startSession",
    input: { vehicleId: "ev", maxKw: 999 },
    token: serviceToken,
  },
  {
    name: "startSession unknown field",
    app: "substation",
    method: "POST",
    path: "startSession",
    input: { vehicleId: "ev", constructor: 1 },
    token: serviceToken,
  },
  {
    name: "startSession body not JSON",
    app: "substation",
    method: "POST",
    path: "startSession",
    raw: "{nope",
    token: serviceToken,
  },
  {
    name: "startSession empty body",
    app: "substation",
    method: "POST",
    path: "startSession",
    raw: "",
    token: serviceToken,
  },
  {
    name: "stopSession unknown",
    app: "substation",
    method: "POST",
    path: "stopSession",
    input: { sessionId: SESSION },
    token: serviceToken,
  },
  {
    name: "setLimit invalid",
    app: "substation",
    method: "POST",
    path: "setLimit",
    input: { limitKw: -1 },
    token: serviceToken,
  },
  {
    name: "setDraining invalid",
    app: "substation",
    method: "POST",
    path: "setDraining",
    input: { draining: "yes" },
    token: serviceToken,
  },
  // balancer (internal)
  { name: "listSubstations", app: "balancer", method: "GET", path: "listSubstations", token: serviceToken },
  {
    name: "dispatch, full everywhere",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "huge", minKw: 100, maxKw: 100 },
    token: serviceToken,
  },
  {
    name: "dispatch, impossible minimum",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "x", minKw: 300, maxKw: 300 },
    token: serviceToken,
  },
  {
    name: "dispatch, bad owner",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "x", owner: "me" },
    token: serviceToken,
  },
  {
    name: "register, bad url",
    app: "balancer",
    method: "POST",
    path: "register",
    input: { url: "ftp://x" },
    token: serviceToken,
  },
  {
    name: "deregister unknown",
    app: "balancer",
    method: "POST",
    path: "deregister",
    input: { url: "http://127.0.0.1:9" },
    token: serviceToken,
  },
  {
    name: "getSession unknown substation",
    app: "balancer",
    method: "GET",
    path: "getSession",
    input: { sessionId: `elsewhere.${"0".repeat(32)}` },
    token: serviceToken,
  },
  {
    name: "stopSession unknown",
    app: "balancer",
    method: "POST",
    path: "stopSession",
    input: { sessionId: SESSION },
    token: serviceToken,
  },
  // charge-api (public)
  { name: "gridStatus", app: "chargeApi", method: "GET", path: "gridStatus" },
  {
    name: "requestCharge invalid",
    app: "chargeApi",
    method: "POST",
    path: "requestCharge",
    input: { vehicleId: "ev 1" },
  },
  {
    name: "requestCharge with an owner",
    app: "chargeApi",
    method: "POST",
    path: "requestCharge",
    input: { vehicleId: "ev", owner: "operator" },
  },
  {
    name: "getSession without a secret",
    app: "chargeApi",
    method: "GET",
    path: "getSession",
    input: { sessionId: SESSION },
  },
  {
    name: "stopCharge with a wrong secret",
    app: "chargeApi",
    method: "POST",
    path: "stopCharge",
    input: { sessionId: SESSION, sessionSecret: "x" },
  },
  {
    name: "getSession as operator, unknown",
    app: "chargeApi",
    method: "GET",
    path: "getSession",
    input: { sessionId: SESSION },
    token: serviceToken,
  },
  { name: "without an API key", app: "keyedApi", method: "GET", path: "gridStatus" },
  { name: "with an API key", app: "keyedApi", method: "GET", path: "gridStatus", token: KEY },
  { name: "over the rate quota", app: "keyedApi", method: "GET", path: "gridStatus", token: KEY },
];

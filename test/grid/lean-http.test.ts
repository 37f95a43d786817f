/**
 * The lean HTTP path (packages/kit/src/lean-http.ts) serves single calls without tRPC's fetch adapter, for
 * speed. It must answer exactly as the adapter would: same status, same envelope, same error shape and
 * reason, same Retry-After. Every procedure of every app, and each way a call can fail, both ways.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BalancerRouter } from "@evgrid/balancer";
import { balancerPool } from "@evgrid/balancer/pool";
import { balancerRouter } from "@evgrid/balancer/router";
import { ChargeDesk } from "@evgrid/charge-api/desk";
import { RateLimiter } from "@evgrid/charge-api/rate-limit";
import { chargeApiRouter } from "@evgrid/charge-api/router";
import { dispatchRequestSchema } from "@evgrid/contract";
import { ApiKeys, internalClient, type RequestContext, retryAfterMeta } from "@evgrid/kit";
import { leanTrpcHandler } from "@evgrid/kit/lean-http";
import { substationRouter } from "@evgrid/substation/router";
import { type Json, startGrid } from "@evgrid/testing";
import type { AnyRouter } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";

interface Call {
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

let grid: Awaited<ReturnType<typeof startGrid>>;
/** Two of each router, one per path, so that state of the charge-api's own (its rate limiter) is not shared. */
let routers: { lean: Record<Call["app"], AnyRouter>; adapter: Record<Call["app"], AnyRouter> };
const BASE = "http://127.0.0.1";
const KEY = "a-key-0123456789abcdef";

beforeAll(async () => {
  grid = await startGrid({ capacitiesKw: [150, 4.2], defaultQuotas: true });
  // The big site is taken: any minimum above 4.2 kW finds the grid full, however often it is asked.
  const { station, bookings } = grid.substations[0] as (typeof grid.substations)[number];
  await station.start(
    dispatchRequestSchema.parse({ vehicleId: "resident", minKw: 150, maxKw: 150, durationS: 3600 }),
  );
  await grid.balancer.view.refresh();
  const balancer = balancerPool([grid.balancer.url], (url) =>
    internalClient<BalancerRouter>(url, { timeoutMs: 5000, token: grid.serviceToken }),
  );
  const api = (burst: number) =>
    chargeApiRouter(
      new ChargeDesk(balancer, {
        callTimeoutMs: 5000,
        serviceToken: grid.serviceToken,
        rate: new RateLimiter({ ratePerS: 0.001, burst }),
        maxWaiting: 10,
      }),
    );
  const set = (): Record<Call["app"], AnyRouter> => ({
    substation: substationRouter(station, bookings),
    balancer: balancerRouter(grid.balancer.dispatcher),
    chargeApi: api(1_000_000),
    // A caller with one request: its second is over the rate quota.
    keyedApi: api(1),
  });
  routers = { lean: set(), adapter: set() };
});
afterAll(() => grid?.[Symbol.asyncDispose]());

function request(c: Call): { req: Request; url: URL; body: string } {
  const q =
    c.method === "GET" && c.input !== undefined
      ? `?input=${encodeURIComponent(JSON.stringify(c.input))}`
      : "";
  const url = new URL(`${BASE}/trpc/${c.path}${q}`);
  const body = c.method === "POST" ? (c.raw ?? (c.input === undefined ? "" : JSON.stringify(c.input))) : "";
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  return {
    req: new Request(url.href, { method: c.method, headers, body: c.method === "POST" ? body : undefined }),
    url,
    body,
  };
}

const context = (c: Call, req: Request): RequestContext => ({
  req,
  link: null,
  obs: null,
  serviceToken: grid.serviceToken,
  apiKeys: new ApiKeys(c.app === "keyedApi" ? [KEY] : []),
  clientAddress: "203.0.113.9",
});

async function both(c: Call) {
  const lean = request(c);
  const leanRes = await leanTrpcHandler(routers.lean[c.app], () => {})(
    lean.req,
    lean.url,
    c.path,
    lean.body,
    context(c, lean.req),
  );
  const viaAdapter = request(c);
  const adapterRes = await fetchRequestHandler({
    endpoint: "/trpc",
    req: viaAdapter.req,
    router: routers.adapter[c.app],
    createContext: () => context(c, viaAdapter.req),
    responseMeta: retryAfterMeta,
  });
  return { leanRes, adapterRes };
}

const SESSION = `substation-1.${"0".repeat(32)}`;
const token = () => grid.serviceToken;
/** Each case: a procedure, and one way it succeeds or fails. */
const calls = (): Call[] => [
  // substation (internal)
  { name: "getLoad", app: "substation", method: "GET", path: "getLoad", token: token() },
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
    token: token(),
  },
  {
    name: "listSessions, bad status",
    app: "substation",
    method: "GET",
    path: "listSessions",
    input: { status: "x" },
    token: token(),
  },
  {
    name: "getSession unknown",
    app: "substation",
    method: "GET",
    path: "getSession",
    input: { sessionId: SESSION },
    token: token(),
  },
  {
    name: "getSession malformed id",
    app: "substation",
    method: "GET",
    path: "getSession",
    input: { sessionId: "../x" },
    token: token(),
  },
  { name: "getSession no input", app: "substation", method: "GET", path: "getSession", token: token() },
  {
    name: "getSession ?input not JSON",
    app: "substation",
    method: "GET",
    path: "getSession",
    token: token(),
    input: undefined,
  },
  {
    name: "startSession invalid",
    app: "substation",
    method: "POST",
    path: "startSession",
    input: { vehicleId: "ev", maxKw: 999 },
    token: token(),
  },
  {
    name: "startSession unknown field",
    app: "substation",
    method: "POST",
    path: "startSession",
    input: { vehicleId: "ev", constructor: 1 },
    token: token(),
  },
  {
    name: "startSession body not JSON",
    app: "substation",
    method: "POST",
    path: "startSession",
    raw: "{nope",
    token: token(),
  },
  {
    name: "startSession empty body",
    app: "substation",
    method: "POST",
    path: "startSession",
    raw: "",
    token: token(),
  },
  {
    name: "stopSession unknown",
    app: "substation",
    method: "POST",
    path: "stopSession",
    input: { sessionId: SESSION },
    token: token(),
  },
  {
    name: "setLimit invalid",
    app: "substation",
    method: "POST",
    path: "setLimit",
    input: { limitKw: -1 },
    token: token(),
  },
  {
    name: "setDraining invalid",
    app: "substation",
    method: "POST",
    path: "setDraining",
    input: { draining: "yes" },
    token: token(),
  },
  // balancer (internal)
  { name: "listSubstations", app: "balancer", method: "GET", path: "listSubstations", token: token() },
  {
    name: "dispatch, full everywhere",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "huge", minKw: 100, maxKw: 100 },
    token: token(),
  },
  {
    name: "dispatch, impossible minimum",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "x", minKw: 300, maxKw: 300 },
    token: token(),
  },
  {
    name: "dispatch, bad owner",
    app: "balancer",
    method: "POST",
    path: "dispatch",
    input: { vehicleId: "x", owner: "me" },
    token: token(),
  },
  {
    name: "register, bad url",
    app: "balancer",
    method: "POST",
    path: "register",
    input: { url: "ftp://x" },
    token: token(),
  },
  {
    name: "deregister unknown",
    app: "balancer",
    method: "POST",
    path: "deregister",
    input: { url: "http://127.0.0.1:9" },
    token: token(),
  },
  {
    name: "getSession unknown substation",
    app: "balancer",
    method: "GET",
    path: "getSession",
    input: { sessionId: `elsewhere.${"0".repeat(32)}` },
    token: token(),
  },
  {
    name: "stopSession unknown",
    app: "balancer",
    method: "POST",
    path: "stopSession",
    input: { sessionId: SESSION },
    token: token(),
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
    token: token(),
  },
  { name: "without an API key", app: "keyedApi", method: "GET", path: "gridStatus" },
  { name: "with an API key", app: "keyedApi", method: "GET", path: "gridStatus", token: KEY },
  { name: "over the rate quota", app: "keyedApi", method: "GET", path: "gridStatus", token: KEY },
];

describe("the lean HTTP path answers as tRPC's fetch adapter", () => {
  test("every procedure, every way of failing: same status, envelope, error and Retry-After", async () => {
    const differences: string[] = [];
    let compared = 0;
    for (const c of calls()) {
      const { leanRes, adapterRes } = await both(c);
      expect({ name: c.name, leanServed: leanRes !== null }).toEqual({ name: c.name, leanServed: true });
      if (!leanRes) continue;
      const [lean, adapter] = [(await leanRes.json()) as Json, (await adapterRes.json()) as Json];
      // Successful calls ran twice, so their data may differ (a new version number): compare their shape.
      const norm = (j: Json) => (j.result ? { result: { data: typeof j.result.data } } : j);
      const a = {
        status: leanRes.status,
        type: leanRes.headers.get("content-type"),
        retryAfter: leanRes.headers.get("retry-after"),
        body: norm(lean),
      };
      const b = {
        status: adapterRes.status,
        type: adapterRes.headers.get("content-type"),
        retryAfter: adapterRes.headers.get("retry-after"),
        body: norm(adapter),
      };
      if (JSON.stringify(a) !== JSON.stringify(b))
        differences.push(`${c.name}:\n  lean    ${JSON.stringify(a)}\n  adapter ${JSON.stringify(b)}`);
      compared += 1;
    }
    expect(differences).toEqual([]);
    expect(compared).toBe(calls().length);
  });

  test("what the lean path does not serve (batches, wrong methods, unknown paths) it leaves to the adapter", async () => {
    const lean = leanTrpcHandler(routers.lean.substation, () => {});
    const cases: [string, string, string][] = [
      ["POST", "getLoad", ""],
      ["GET", "startSession", ""],
      ["GET", "launchMissiles", ""],
      ["GET", "getLoad,getLoad", "?batch=1"],
    ];
    for (const [method, path, q] of cases) {
      const url = new URL(`${BASE}/trpc/${path}${q}`);
      const req = new Request(url.href, { method, body: method === "POST" ? "{}" : undefined });
      expect(await lean(req, url, path, "{}", context({ app: "substation" } as Call, req))).toBeNull();
    }
  });
});

/**
 * The lean HTTP path (packages/link/src/lean-http.ts) serves single calls without tRPC's fetch adapter, for
 * speed. It must answer exactly as the adapter would: same status, same envelope, same error shape and
 * reason, same Retry-After. Every procedure of every app, and each way a call can fail, both ways.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { balancerRouter } from "@evgrid/balancer/router";
import { ApiKeys, preparePublic, type RequestContext, retryAfterMeta } from "@evgrid/kit";
import { leanTrpcHandler } from "@evgrid/link";
import { substationRouter } from "@evgrid/substation/router";
import type { Json } from "@evgrid/testing";
import type { AnyRouter } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { type Call, calls, chargeApis, KEY, recordingObs, startTakenGrid } from "./equivalence-cases.ts";

let grid: Awaited<ReturnType<typeof startTakenGrid>>;
/** Two of each router, one per path, so that state of the charge-api's own (its rate limiter) is not shared. */
let routers: { lean: Record<Call["app"], AnyRouter>; adapter: Record<Call["app"], AnyRouter> };
const BASE = "http://127.0.0.1";

beforeAll(async () => {
  grid = await startTakenGrid();
  const { station, bookings } = grid.substations[0] as (typeof grid.substations)[number];
  const api = chargeApis(grid);
  const set = (): Record<Call["app"], AnyRouter> => ({
    substation: substationRouter(station, bookings),
    balancer: balancerRouter(grid.balancer.dispatcher),
    chargeApi: api(1_000_000),
    // A caller with one request: its second is over the rate quota.
    keyedApi: api(1),
  });
  routers = { lean: set(), adapter: set() };
  freshKeyedApi = () => api(1);
});
/** A charge-api of its own (API keys, one request of quota), for a test that spends its quota. */
let freshKeyedApi: () => AnyRouter;
afterAll(() => grid?.[Symbol.asyncDispose]());

function request(c: Call): { req: Request; url: URL; body: string } {
  const text = c.query ?? (c.input === undefined ? undefined : JSON.stringify(c.input));
  const q = c.method === "GET" && text !== undefined ? `?input=${encodeURIComponent(text)}` : "";
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
  const leanRes = await leanTrpcHandler<RequestContext>(routers.lean[c.app], {
    responseMeta: retryAfterMeta,
    // As the app server runs it: public procedures prepared (prepared-public.test.ts), the rest by the chain.
    prepare: preparePublic,
  })(lean.req, lean.url, c.path, lean.body, context(c, lean.req));
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

describe("the lean HTTP path answers as tRPC's fetch adapter", () => {
  test("every procedure, every way of failing: same status, envelope, error and Retry-After", async () => {
    const differences: string[] = [];
    let compared = 0;
    for (const c of calls(grid.serviceToken)) {
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
    expect(compared).toBe(calls(grid.serviceToken).length);
  });

  test("what the lean path does not serve (batches, wrong methods, unknown paths) it leaves to the adapter", async () => {
    const lean = leanTrpcHandler<RequestContext>(routers.lean.substation);
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

  test("input that is not JSON fails where the input is read: after the caller and its quota, as the adapter", async () => {
    // Who calls and whether their quota allows it come first: an unreadable body earns no 400 before its 401,
    // costs quota like any call, and a procedure without input never reads it.
    const steps: Call[] = [
      { name: "no key", app: "keyedApi", method: "POST", path: "requestCharge", raw: "{nope" },
      { name: "key", app: "keyedApi", method: "POST", path: "requestCharge", raw: "{nope", token: KEY },
      {
        name: "over quota",
        app: "keyedApi",
        method: "POST",
        path: "requestCharge",
        raw: "{nope",
        token: KEY,
      },
      { name: "no input read", app: "keyedApi", method: "GET", path: "gridStatus", query: "{nope" },
    ];
    const [lean, adapter] = [freshKeyedApi(), freshKeyedApi()];
    const [leanObs, adapterObs] = [recordingObs(), recordingObs()];
    const seen = { lean: [] as unknown[], adapter: [] as unknown[] };
    for (const c of steps) {
      const token = c.path === "gridStatus" ? grid.serviceToken : c.token;
      const [l, a] = [request({ ...c, token }), request({ ...c, token })];
      const leanRes = await leanTrpcHandler<RequestContext>(lean, { prepare: preparePublic })(
        l.req,
        l.url,
        c.path,
        l.body,
        { ...context(c, l.req), obs: leanObs.obs },
      );
      const adapterRes = await fetchRequestHandler({
        endpoint: "/trpc",
        req: a.req,
        router: adapter,
        createContext: () => ({ ...context(c, a.req), obs: adapterObs.obs }),
      });
      // The grid's status is read twice: compare that it came, not its numbers.
      const norm = (j: Json) => (j.result ? { result: typeof j.result.data } : j);
      seen.lean.push({ name: c.name, status: leanRes?.status, body: norm((await leanRes?.json()) as Json) });
      seen.adapter.push({
        name: c.name,
        status: adapterRes.status,
        body: norm((await adapterRes.json()) as Json),
      });
    }
    expect({ steps: seen.lean, points: leanObs.points }).toEqual({
      steps: seen.adapter,
      points: adapterObs.points,
    });
  });
});

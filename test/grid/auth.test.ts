/** Only charge-api is public: every balancer and substation procedure requires the service token. */
import { describe, expect, test } from "bun:test";
import { startGrid } from "@evgrid/testing";

const SESSION = `substation-1.${"0".repeat(32)}`;
/** Every internal and admin procedure, with a valid input, as curl would call it. */
const INTERNAL: [app: "balancer" | "substation", path: string, method: "GET" | "POST", input: unknown][] = [
  ["substation", "getLoad", "GET", undefined],
  ["substation", "startSession", "POST", { vehicleId: "ev", durationS: 60 }],
  ["substation", "stopSession", "POST", { sessionId: SESSION }],
  ["substation", "getSession", "GET", { sessionId: SESSION }],
  ["substation", "listSessions", "GET", { status: "all" }],
  ["substation", "setLimit", "POST", { limitKw: 10 }],
  ["substation", "setDraining", "POST", { draining: false }],
  ["substation", "setDrawHold", "POST", { source: "ocpp-gateway", kw: 0 }],
  ["balancer", "dispatch", "POST", { vehicleId: "ev", durationS: 60 }],
  ["balancer", "listSubstations", "GET", undefined],
  ["balancer", "getSession", "GET", { sessionId: SESSION }],
  ["balancer", "stopSession", "POST", { sessionId: SESSION }],
  ["balancer", "register", "POST", { url: "http://127.0.0.1:9" }],
  ["balancer", "deregister", "POST", { url: "http://127.0.0.1:9" }],
];

function call(base: string, path: string, method: string, input: unknown, authorization?: string) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  if (method === "GET") {
    const q = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return fetch(`${base}/trpc/${path}${q}`, { headers });
  }
  return fetch(`${base}/trpc/${path}`, {
    method,
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(input),
  });
}

describe("service token", () => {
  test("every internal and admin procedure refuses a missing, malformed or wrong token, and takes the right one", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const base = { balancer: grid.balancer.url, substation: grid.substations[0]?.url ?? "" };
    const refusals: string[] = [];
    for (const [app, path, method, input] of INTERNAL) {
      for (const authorization of [
        undefined,
        "Bearer wrong-token-of-good-length",
        grid.serviceToken,
        `Basic ${grid.serviceToken}`,
      ]) {
        const res = await call(base[app], path, method, input, authorization);
        const body = (await res.json()) as { error?: { data?: { code?: string; reason?: string } } };
        if (res.status === 401) {
          expect(body.error?.data).toMatchObject({ code: "UNAUTHORIZED", reason: "UNAUTHORIZED" });
          refusals.push(`${app}.${path}`);
        }
      }
      // With the right token the call is served (whatever its answer), never 401.
      const ok = await call(base[app], path, method, input, `Bearer ${grid.serviceToken}`);
      expect({ path, status: ok.status === 401 ? 401 : "served" }).toEqual({ path, status: "served" });
    }
    // Four wrong ways per procedure (none, a wrong token, the token without "Bearer", Basic), each refused.
    expect(refusals).toHaveLength(INTERNAL.length * 4);
  });

  test("the public API needs no token, and the apps' health and metrics stay open", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const grant = await grid.client.requestCharge.mutate({ vehicleId: "ev", durationS: 60 });
    expect(grant.substationId).toBe("substation-1");
    expect((await fetch(`${grid.api.url}/request_charge`, { method: "POST" })).status).toBe(200);
    for (const app of [grid.balancer, grid.substations[0]]) {
      expect((await fetch(`${app?.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${app?.url}/metrics`)).status).toBe(200);
    }
  });
});

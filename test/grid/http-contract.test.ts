import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { postJson, startGrid } from "@evgrid/testing";

/** One grid for every case that changes nothing (validation, routing, health); others start their own. */
let grid: Awaited<ReturnType<typeof startGrid>>;
beforeAll(async () => {
  grid = await startGrid({ capacitiesKw: [150, 150] });
});
afterAll(() => grid?.[Symbol.asyncDispose]());

describe("POST /request_charge (the original system's text contract)", () => {
  test("no body: 200 and `Routed to <substation-id>`, spread over the substations", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${grid.api.url}/request_charge`, { method: "POST" });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/plain");
      const body = await res.text();
      expect(body).toMatch(/^Routed to substation-[12]\n$/);
      seen.add(body);
    }
    expect(seen.size).toBe(2);
  });

  test("an optional JSON body is honoured and validated", async () => {
    const ok = await fetch(`${grid.api.url}/request_charge`, { method: "POST", body: '{"maxKw": 22}' });
    expect(await ok.text()).toMatch(/^Routed to substation-[12]\n$/);
    const bad = await fetch(`${grid.api.url}/request_charge`, { method: "POST", body: '{"maxKw": 9000}' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^Bad request: invalid input: maxKw: .*\n$/);
    // Several bad fields: each named, as the tRPC route names them, not the validator's raw issue list.
    const worse = await fetch(`${grid.api.url}/request_charge`, {
      method: "POST",
      body: '{"maxKw": "x", "vehicleId": null}',
    });
    const line = await worse.text();
    expect(line).toMatch(/^Bad request: .*maxKw: .*\n$/);
    expect(line).toContain("vehicleId: ");
    expect(line).not.toContain('"code"');
    const garbage = await fetch(`${grid.api.url}/request_charge`, { method: "POST", body: "<html>" });
    expect(garbage.status).toBe(400);
  });

  test("a retry with the request's idempotency key gets its session back, not a refusal", async () => {
    const send = (key: string) =>
      fetch(`${grid.api.url}/request_charge`, {
        method: "POST",
        body: JSON.stringify({ idempotencyKey: key, durationS: 60 }),
      });
    const active = () => grid.substations.reduce((n, s) => n + s.station.load().activeSessions, 0);
    const before = active();
    const first = await (await send("legacy-order-1")).text();
    expect(first).toMatch(/^Routed to substation-[12]\n$/);
    // The same key again (its answer was lost, say): the same session, on the same substation.
    const again = await send("legacy-order-1");
    expect([again.status, await again.text()]).toEqual([200, first]);
    // Another key is another request.
    expect((await send("legacy-order-2")).status).toBe(200);
    expect(active() - before).toBe(2);
  });

  test("grid full: 429 with one line of text", async () => {
    await using full = await startGrid({ capacitiesKw: [4.2] });
    expect((await fetch(`${full.api.url}/request_charge`, { method: "POST" })).status).toBe(200);
    const res = await fetch(`${full.api.url}/request_charge`, { method: "POST" });
    expect(res.status).toBe(429);
    const body = await res.text();
    expect(body).toMatch(/^Grid full: .*substation-1: INSUFFICIENT_CAPACITY.*\n$/);
    expect(body.trim().split("\n")).toHaveLength(1);
  });

  test("nothing reachable: 503 with one line of text, never an HTML page", async () => {
    await using dark = await startGrid({ capacitiesKw: [150, 150] });
    for (const s of dark.substations) await s.stop();
    const res = await fetch(`${dark.api.url}/request_charge`, { method: "POST" });
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(body).toMatch(/^Unavailable: .*\n$/);
    expect(body).not.toContain("<");
  });

  test("a balancer that is down is 503 too", async () => {
    await using headless = await startGrid({ capacitiesKw: [150] });
    await headless.balancer.stop();
    const res = await fetch(`${headless.api.url}/request_charge`, { method: "POST" });
    expect(res.status).toBe(503);
    expect(await res.text()).toBe("Unavailable: balancer is unreachable\n");
  });

  test("other methods are 405 with an Allow header", async () => {
    const res = await fetch(`${grid.api.url}/request_charge`);
    expect([res.status, res.headers.get("allow")]).toEqual([405, "POST"]);
  });
});

describe("bad input on the tRPC API: 400 naming the field, never a 500", () => {
  const cases: [string, unknown, string][] = [
    ["missing vehicleId", { maxKw: 11 }, "vehicleId"],
    ["vehicleId with a space", { vehicleId: "ev 1" }, "vehicleId"],
    ["vehicleId too long", { vehicleId: "x".repeat(65) }, "vehicleId"],
    ["maxKw above 350", { vehicleId: "ev", maxKw: 351 }, "maxKw"],
    ["maxKw zero", { vehicleId: "ev", maxKw: 0 }, "maxKw"],
    ["maxKw as a string", { vehicleId: "ev", maxKw: "11" }, "maxKw"],
    ["minKw above maxKw", { vehicleId: "ev", maxKw: 7.4, minKw: 11 }, "minKw"],
    ["durationS over 24 h", { vehicleId: "ev", durationS: 86_401 }, "durationS"],
    ["negative energy", { vehicleId: "ev", energyKwh: -1 }, "energyKwh"],
    ["both duration and energy", { vehicleId: "ev", durationS: 10, energyKwh: 5 }, "energyKwh"],
    ["an unknown field", { vehicleId: "ev", maxkw: 11 }, "maxkw"],
    // Found by the fuzz test: field names that are Object.prototype members used to crash the formatter.
    ["a field named constructor", { vehicleId: "ev", constructor: 1 }, "constructor"],
    ["a field named __proto__", JSON.parse('{"vehicleId":"ev","__proto__":{"x":1}}'), "__proto__"],
    ["a field named toString", { vehicleId: "ev", toString: "x" }, "toString"],
  ];
  for (const [name, input, field] of cases) {
    test(name, async () => {
      const { status, json } = await postJson(`${grid.api.url}/trpc/requestCharge`, input);
      expect(status).toBe(400);
      expect(json.error.data).toMatchObject({ code: "BAD_REQUEST", reason: "INVALID_INPUT" });
      expect(Object.keys(json.error.data.fieldErrors)).toContain(field);
      expect(JSON.stringify(json)).not.toContain("stack");
    });
  }

  test("malformed JSON is 400 INVALID_INPUT", async () => {
    const { status, json } = await postJson(`${grid.api.url}/trpc/requestCharge`, "{not json");
    expect(status).toBe(400);
    expect(json.error.data.reason).toBe("INVALID_INPUT");
  });

  test("malformed session ids are 400 on sessionId", async () => {
    const { status, json } = await postJson(`${grid.api.url}/trpc/stopCharge`, { sessionId: "../../etc" });
    expect(status).toBe(400);
    expect(Object.keys(json.error.data.fieldErrors)).toEqual(["sessionId"]);
  });

  test("a query called as a mutation, or an unknown procedure, is a typed 4xx", async () => {
    const wrong = await postJson(`${grid.api.url}/trpc/gridStatus`, {});
    expect(wrong.status).toBe(405);
    const unknown = await postJson(`${grid.api.url}/trpc/launchMissiles`, {});
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.data.reason).toBe("NOT_FOUND");
    // Neither GET nor POST: 405 saying which are, not a demand for a JSON body.
    for (const method of ["OPTIONS", "PUT", "DELETE"]) {
      const res = await fetch(`${grid.api.url}/trpc/requestCharge`, { method });
      expect([res.status, res.headers.get("allow")]).toEqual([405, "GET, POST"]);
      expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
        "METHOD_NOT_SUPPORTED",
      );
    }
  });
});

describe("every app serves /healthz", () => {
  test("JSON with ok, service, version and uptime", async () => {
    const apps = [grid.api, grid.balancer, grid.substations[0]];
    const names = [];
    for (const app of apps) {
      const health = (await (await fetch(`${app?.url}/healthz`)).json()) as { service: string };
      expect(health).toMatchObject({ ok: true, version: "0.1.0", uptimeS: expect.any(Number) });
      names.push(health.service);
    }
    expect(names).toEqual(["charge-api", "balancer", "substation"]);
  });
});

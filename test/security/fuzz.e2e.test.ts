/**
 * Hostile input against every public and internal procedure of a running grid (real processes): never a
 * 5xx, always a typed reason, and every process alive and consistent afterwards.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev, within } from "@evgrid/testing";
import fc from "fast-check";
import { type App, chunked, type FuzzLink, openFuzzLink, request, safeJson, wsFrame } from "./fuzz-inputs.ts";

setDefaultTimeout(120_000);

let dev: Awaited<ReturnType<typeof startDev>>;
beforeAll(async () => {
  dev = await startDev(["--random-ports", "--no-quotas", "--capacities", "150,50"]);
});
afterAll(async () => {
  await dev?.[Symbol.asyncDispose]();
});

function baseOf(app: App): string {
  if (app === "chargeApi") return dev.urls.chargeApi;
  if (app === "balancer") return dev.urls.balancer;
  return dev.urls.substations["substation-1"] as string;
}

describe("hostile input", () => {
  test("1,200 generated hostile requests: no 5xx, every JSON error typed", async () => {
    const statuses = new Map<number, number>();
    const untyped: string[] = [];
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [app, path, kind] = r.target;
        const method = r.method === "auto" ? (kind === "query" && !r.legacy ? "GET" : "POST") : r.method;
        const headers: Record<string, string> = {};
        if (r.contentType) headers["content-type"] = r.contentType;
        if (r.withToken) headers.authorization = `Bearer ${dev.urls.serviceToken}`;
        let url: string;
        let init: RequestInit;
        if (r.legacy) {
          url = `${dev.urls.chargeApi}/request_charge`;
          init = { method, headers, body: method === "GET" ? undefined : r.body };
        } else if (typeof r.shape === "number") {
          // A batch: the same body for every call (or a tRPC batch object), the path repeated.
          const batch = `${baseOf(app)}/trpc/${Array(r.shape).fill(path).join(",")}?batch=1`;
          // Deeply nested bodies are sent one call at a time above; copied into 60 items they only cost time.
          const item = r.body.length <= 2000 ? safeJson(r.body) : r.body.slice(0, 2000);
          const items = Object.fromEntries(Array.from({ length: r.shape }, (_, i) => [String(i), item]));
          const payload = r.batchItems ? JSON.stringify(items) : r.body;
          if (method === "GET") {
            url = `${batch}&input=${encodeURIComponent(payload.slice(0, 4000).toWellFormed())}`;
            init = { method: "GET", headers };
          } else {
            url = batch;
            init = { method, headers, body: payload };
          }
        } else if (kind === "query" && method === "GET") {
          // Keep the URL under Bun's header limit; a long URL is its own case below.
          url = `${baseOf(app)}/trpc/${path}?input=${encodeURIComponent(r.body.slice(0, 4000).toWellFormed())}`;
          init = { method: "GET", headers };
        } else {
          url = `${baseOf(app)}/trpc/${path}`;
          const body = r.shape === "chunked" ? chunked(r.body) : r.body;
          init = { method, headers, body: method === "GET" ? undefined : body };
        }
        const res = await fetch(url, init);
        const text = await res.text();
        sent += 1;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect({ url, status: res.status < 500 }).toEqual({ url, status: true });
        expect(text.toLowerCase()).not.toContain("<html");
        if (res.status >= 400 && res.headers.get("content-type")?.includes("application/json")) {
          // One error, or a batch's answers (each call failed or succeeded on its own): every error typed.
          type Answer = { error?: { data?: { reason?: string } } };
          const parsed = JSON.parse(text) as Answer | Answer[];
          const errors = (Array.isArray(parsed) ? parsed : [parsed]).filter(
            (a) => a.error !== undefined || !Array.isArray(parsed),
          );
          if (errors.some((a) => !a.error?.data?.reason))
            untyped.push(`${res.status} ${url}: ${text.slice(0, 120)}`);
        }
      }),
      { numRuns: 1200 },
    );
    expect(untyped).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(1200);
    console.log(`fuzz: ${sent} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}; 0 x 5xx`);
  });

  test("600 generated hostile frames on the internal links (WebSocket): typed answers or a reasoned close", async () => {
    const closes = new Map<number, number>();
    const untyped: string[] = [];
    let answered = 0;
    let link: FuzzLink | null = null;
    await fc.assert(
      fc.asyncProperty(wsFrame, async (f) => {
        const url = `${baseOf(f.app).replace(/^http/, "ws")}/trpc`;
        if (!f.withToken) {
          // Without the token: refused at the upgrade, nothing runs.
          const closed = await (await openFuzzLink(url, {})).closedWithin(2000);
          expect(closed?.code).not.toBe(1000);
          return;
        }
        if (!link || link.closed() || link.url !== url)
          link = await openFuzzLink(url, { authorization: `Bearer ${dev.urls.serviceToken}` });
        const answersBefore = link.received.length;
        link.ws.send(f.frame);
        // Every call with a usable id is answered or the link is closed; PING/PONG orders the rest.
        link.ws.send("PING");
        const done = await within(
          (async () => {
            for (;;) {
              if (link?.closed()) return "closed";
              const got = link?.received.slice(answersBefore) ?? [];
              const answeredIds = new Set(got.filter((m) => m !== "PONG").map((m) => JSON.parse(m).id));
              if (got.includes("PONG") && f.ids.every((id) => answeredIds.has(id))) return "answered";
              await Bun.sleep(5);
            }
          })(),
          15_000, // a guard against a hang, not a latency target
          "hung" as const,
        );
        expect({ frame: f.frame.slice(0, 200), done }).not.toEqual({
          frame: f.frame.slice(0, 200),
          done: "hung",
        });
        for (const m of link.received.slice(answersBefore)) {
          if (m === "PONG") continue;
          const parsed = JSON.parse(m) as { error?: { data?: { code?: string; reason?: string } } };
          answered += 1;
          if (parsed.error && !parsed.error.data?.reason) untyped.push(m.slice(0, 160));
        }
        const closed = link.closed();
        if (closed) {
          closes.set(closed.code, (closes.get(closed.code) ?? 0) + 1);
          // Refused with a reason: not a tRPC message (4400) or too big (1009). Never an internal error.
          const reasoned = closed.code === 4400 || closed.code === 1009;
          expect({ frame: f.frame.slice(0, 200), closed, reasoned }).toMatchObject({ reasoned: true });
        }
      }),
      { numRuns: 600 },
    );
    (link as FuzzLink | null)?.ws.close();
    expect(untyped).toEqual([]);
    console.log(`fuzz (links): ${answered} answers; closes ${JSON.stringify(Object.fromEntries(closes))}`);
  });

  test("a URL over the header limit and a body over 64 KiB are refused with 4xx", async () => {
    const long = await fetch(`${dev.urls.chargeApi}/trpc/gridStatus?input=${"x".repeat(40_000)}`);
    expect(long.status).toBeGreaterThanOrEqual(400);
    expect(long.status).toBeLessThan(500);
    const big = await fetch(`${dev.urls.chargeApi}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ vehicleId: "x".repeat(70_000) }),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { data: { reason: string } } }).error.data.reason).toBe(
      "PAYLOAD_TOO_LARGE",
    );
  });

  test("afterwards every process is alive, the grid is consistent and still serves", async () => {
    const auth = { authorization: `Bearer ${dev.urls.serviceToken}` };
    for (const url of [dev.urls.chargeApi, dev.urls.balancer, ...Object.values(dev.urls.substations)]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    // The fuzzer may have set operator limits (legitimately): lift them, then check every substation.
    for (const url of Object.values(dev.urls.substations)) {
      await fetch(`${url}/trpc/setLimit`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ limitKw: null }),
      });
      const load = (
        (await (await fetch(`${url}/trpc/getLoad`, { headers: auth })).json()) as {
          result: { data: { committedMinKw: number; allocatedKw: number; effectiveCapacityKw: number } };
        }
      ).result.data;
      expect(load.committedMinKw).toBeLessThanOrEqual(load.effectiveCapacityKw + 1e-6);
      expect(load.allocatedKw).toBeLessThanOrEqual(load.effectiveCapacityKw + 1e-6);
    }
    const res = await fetch(`${dev.urls.chargeApi}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ vehicleId: "after-fuzz", maxKw: 3.7, minKw: 1.4, durationS: 5 }),
    });
    expect([200, 429]).toContain(res.status);
  });
});

/**
 * Quotas per caller: requests per second, active sessions, and a share of the grid's power; batches are
 * counted call by call, and bodies are bounded however they are sent. Real processes (`bun run dev`).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev } from "@evgrid/testing";
import { type Answer, type As, type Json, mutation, query, reasonOf } from "./http.ts";

setDefaultTimeout(60_000);

const KEYS = ["flood", "calm", "hog", "many", "batch", "getter", "recheck"].map(
  (k) => `${k}-key-0123456789abcdef`,
);
const [FLOOD, CALM, HOG, MANY, BATCH, GETTER] = KEYS.map((bearer) => ({ bearer })) as As[] as [
  As,
  As,
  As,
  As,
  As,
  As,
];
const BURST = 40;
const RPS = 20;

let dev: Awaited<ReturnType<typeof startDev>>;
let api: string;
beforeAll(async () => {
  dev = await startDev(["--random-ports", "--capacities", "150,150,150"], {
    env: {
      API_KEYS: KEYS.join(","),
      QUOTA_RPS: String(RPS),
      QUOTA_BURST: String(BURST),
      QUOTA_ACTIVE_SESSIONS: "20",
      // Above the 1,100-call batch below; the bound itself is the last test's.
      MAX_BATCH_CALLS: "1200",
    },
  });
  api = dev.urls.chargeApi;
});
afterAll(() => dev?.[Symbol.asyncDispose]());

describe("quotas per API key", () => {
  test("one key's flood gets 429 QUOTA_EXCEEDED with Retry-After, while another key is served normally", async () => {
    const t0 = performance.now();
    const flood = await Promise.all(
      Array.from({ length: 200 }, () => query(api, "gridStatus", undefined, FLOOD)),
    );
    // The bucket refills while the flood is under way: the allowance grows with how long it took (a slow
    // machine loosens it, never tightens it).
    const refillS = (performance.now() - t0) / 1000;
    const allowance = BURST + Math.ceil(RPS * refillS) + 1;
    const refused = flood.filter((a) => a.status === 429);
    const served = flood.filter((a) => a.status === 200).length;
    expect(served).toBeLessThanOrEqual(allowance);
    // Everything past the allowance is refused, typed (nothing else: no 5xx, no hang).
    expect(refused.length).toBe(flood.length - served);
    expect(refused.length).toBeGreaterThanOrEqual(flood.length - allowance);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(reasonOf(a)).toBe("QUOTA_EXCEEDED");
      expect(a.json.error.data.details).toMatchObject({ quota: "rate", limit: 20 });
      expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const calm = await Promise.all(
      Array.from({ length: 10 }, () => query(api, "gridStatus", undefined, CALM)),
    );
    expect(calm.map((a) => a.status)).toEqual(Array(10).fill(200));
  });

  test("three 24-hour 150 kW requests cannot take the whole grid: the second is over the key's share", async () => {
    const hog = { minKw: 150, maxKw: 150, durationS: 86_400 };
    const first = await mutation(api, "requestCharge", { ...hog, vehicleId: "hog-1" }, HOG);
    expect(first.status).toBe(200);
    for (const v of ["hog-2", "hog-3"]) {
      const next = await mutation(api, "requestCharge", { ...hog, vehicleId: v }, HOG);
      expect(next.status).toBe(429);
      expect(reasonOf(next)).toBe("QUOTA_EXCEEDED");
      expect(next.json.error.data.details).toMatchObject({ quota: "grid_share", limit: 0.5 });
      expect(Number(next.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    // Everyone else still charges, the original endpoint included.
    expect((await mutation(api, "requestCharge", { vehicleId: "calm-1", durationS: 60 }, CALM)).status).toBe(
      200,
    );
    const legacy = await fetch(`${api}/request_charge`, {
      method: "POST",
      headers: { authorization: `Bearer ${CALM.bearer}` },
    });
    expect(await legacy.text()).toMatch(/^Routed to substation-\d\n$/);
  });

  test("power is what bounds sessions: 1e-300 kW is refused on the field, and one key's sessions are counted", async () => {
    const tiny = await mutation(
      api,
      "requestCharge",
      { vehicleId: "tiny", maxKw: 1e-300, minKw: 1e-300 },
      MANY,
    );
    expect(tiny.status).toBe(400);
    expect(tiny.json.error.data.fieldErrors).toHaveProperty("maxKw");
    const many = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        mutation(api, "requestCharge", { vehicleId: `many-${i}`, maxKw: 1, durationS: 600 }, MANY),
      ),
    );
    expect(many.filter((a) => a.status === 200)).toHaveLength(20);
    for (const a of many.filter((x) => x.status !== 200)) {
      expect(a.json.error.data).toMatchObject({
        reason: "QUOTA_EXCEEDED",
        details: { quota: "active_sessions" },
      });
    }
  });
});

describe("quotas count what callers really hold", () => {
  test("a session ended behind the balancer's back (an operator at the substation) frees its caller's place", async () => {
    const RECHECK = { bearer: KEYS[6] };
    const held = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        mutation(api, "requestCharge", { vehicleId: `held-${i}`, maxKw: 1, durationS: 600 }, RECHECK),
      ),
    );
    expect(held.every((a) => a.status === 200)).toBe(true);
    // An operator stops one at its substation directly: the balancer is not told.
    const { sessionId, substationId } = (held[0] as Answer).json.result.data;
    const stopped = await fetch(`${dev.urls.substations[substationId]}/trpc/stopSession`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${dev.urls.serviceToken}` },
      body: JSON.stringify({ sessionId }),
    });
    expect(stopped.status).toBe(200);
    // At its quota, the caller's sessions are checked with their substations: it has 19, so one more fits...
    const again = await mutation(
      api,
      "requestCharge",
      { vehicleId: "held-20", maxKw: 1, durationS: 600 },
      RECHECK,
    );
    expect(again.status).toBe(200);
    // ...and then it is at 20 again, really.
    const over = await mutation(
      api,
      "requestCharge",
      { vehicleId: "held-21", maxKw: 1, durationS: 600 },
      RECHECK,
    );
    expect(over.json.error.data.details).toMatchObject({ quota: "active_sessions" });
  });
});

describe("batches and streamed bodies", () => {
  /** A POST whose body has no length: sent chunked, in small pieces, as a slow or malicious client would. */
  async function chunkedPost(url: string, headers: Record<string, string>, body: string) {
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let i = 0; i < bytes.length; i += 4096) ctl.enqueue(bytes.slice(i, i + 4096));
        ctl.close();
      },
    });
    const res = await fetch(url, { method: "POST", headers, body: stream });
    return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() };
  }

  test("1,100 requestCharge calls in one chunked batch are counted one by one", async () => {
    const n = 1100;
    const input = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [String(i), { vehicleId: `b-${i}`, maxKw: 1, durationS: 60 }]),
    );
    const body = JSON.stringify(input);
    expect(body.length).toBeLessThan(64 * 1024); // within the body limit: only the quota can stop it
    const res = await chunkedPost(
      `${api}/trpc/${Array(n).fill("requestCharge").join(",")}?batch=1`,
      { "content-type": "application/json", authorization: `Bearer ${BATCH.bearer}` },
      body,
    );
    expect(res.status).toBe(207);
    const parsed = JSON.parse(res.body) as Json[];
    expect(parsed).toHaveLength(n);
    const admitted = parsed.filter((r) => r.result).length;
    expect(admitted).toBeLessThanOrEqual(20);
    const reasons = new Set(parsed.filter((r) => r.error).map((r) => r.error.data.reason));
    expect([...reasons].sort()).toEqual(["QUOTA_EXCEEDED"]);
  });

  test("a batch over MAX_BATCH_CALLS is refused whole, typed, before any call runs or costs anything", async () => {
    // Calls to procedures that do not exist cost no quota: only the bound keeps such a batch cheap.
    for (const path of ["nope", "getSession"]) {
      const res = await fetch(`${api}/trpc/${Array(1201).fill(path).join(",")}?batch=1&input={}`, {
        headers: { authorization: `Bearer ${CALM.bearer}` },
      });
      expect(res.status).toBe(413);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      const { error } = (await res.json()) as Json;
      expect(error.data.reason).toBe("PAYLOAD_TOO_LARGE");
      expect(error.message).toBe("a batch may carry at most 1200 calls; send fewer per request");
    }
    // Commas sent encoded separate calls too (tRPC decodes the path): counted the same.
    const encoded = await fetch(`${api}/trpc/${Array(1201).fill("nope").join("%2C")}?batch=1&input={}`);
    expect(encoded.status).toBe(413);
    // At the bound, a batch is served: every call answered (here, each as a missing procedure).
    const res = await fetch(`${api}/trpc/${Array(1200).fill("nope").join(",")}?batch=1&input={}`);
    expect((await res.json()) as Json[]).toHaveLength(1200);
  });

  test("a chunked body over 64 KiB is refused with the same typed 413 as one with a length", async () => {
    const res = await chunkedPost(
      `${api}/trpc/requestCharge`,
      { "content-type": "application/json", authorization: `Bearer ${CALM.bearer}` },
      JSON.stringify({ vehicleId: "x".repeat(200_000) }),
    );
    expect(res.status).toBe(413);
    expect(res.contentType).toStartWith("application/json");
    expect(JSON.parse(res.body).error.data.reason).toBe("PAYLOAD_TOO_LARGE");
  });

  test("140 getSession calls in one URL cost 140 tokens: the caller's rate bounds the fan-out", async () => {
    const n = 140;
    const input = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        String(i),
        { sessionId: `substation-1.${i.toString(16).padStart(32, "0")}` },
      ]),
    );
    const res = await fetch(
      `${api}/trpc/${Array(n).fill("getSession").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
      { headers: { authorization: `Bearer ${GETTER.bearer}` } },
    );
    const parsed = (await res.json()) as Json[];
    const limited = parsed.filter((r) => r.error?.data?.reason === "QUOTA_EXCEEDED").length;
    const looked = parsed.filter((r) => r.error?.data?.reason === "SESSION_NOT_FOUND").length;
    expect(limited + looked).toBe(n);
    expect(looked).toBeLessThanOrEqual(BURST + 1);
    expect(res.headers.get("retry-after")).not.toBeNull();
  });
});

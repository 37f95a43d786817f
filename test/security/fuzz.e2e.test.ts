/**
 * Hostile input against every public and internal procedure of a running grid (real processes): never a
 * 5xx, always a typed reason, and every process alive and consistent afterwards.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev, within } from "@evgrid/testing";
import fc from "fast-check";

setDefaultTimeout(120_000);

let dev: Awaited<ReturnType<typeof startDev>>;
beforeAll(async () => {
  dev = await startDev(["--random-ports", "--no-quotas", "--capacities", "150,50"]);
});
afterAll(async () => {
  await dev?.[Symbol.asyncDispose]();
});

type App = "chargeApi" | "balancer" | "substation";
const PROCEDURES: [App, string, "query" | "mutation"][] = [
  ["chargeApi", "requestCharge", "mutation"],
  ["chargeApi", "stopCharge", "mutation"],
  ["chargeApi", "getSession", "query"],
  ["chargeApi", "gridStatus", "query"],
  ["balancer", "dispatch", "mutation"],
  ["balancer", "listSubstations", "query"],
  ["balancer", "getSession", "query"],
  ["balancer", "stopSession", "mutation"],
  ["balancer", "register", "mutation"],
  ["balancer", "deregister", "mutation"],
  ["substation", "getLoad", "query"],
  ["substation", "startSession", "mutation"],
  ["substation", "stopSession", "mutation"],
  ["substation", "getSession", "query"],
  ["substation", "listSessions", "query"],
  ["substation", "setLimit", "mutation"],
  ["substation", "setDraining", "mutation"],
];

const trickyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.constantFrom(
    "ev\u202e1", // right-to-left override
    "ev\u200b1", // zero-width space
    "еv-1", // Cyrillic e
    "ev\u00001",
    "../../etc/passwd",
    "substation-1.0000",
    `substation-1.${"f".repeat(32)}`,
    "🚗".repeat(40),
    "<script>alert(1)</script>",
    "' OR 1=1 --",
  ),
);
const trickyNumber = fc.oneof(
  fc.double(),
  fc.constantFrom(0, -0, -1, 1e-300, 1e308, Number.MAX_SAFE_INTEGER + 2, 350.0000001, 4.2),
);
const nearlyValid = fc.record(
  {
    vehicleId: trickyString,
    maxKw: trickyNumber,
    minKw: trickyNumber,
    durationS: trickyNumber,
    energyKwh: trickyNumber,
    sessionId: trickyString,
    limitKw: fc.option(trickyNumber),
    draining: fc.oneof(fc.boolean(), trickyString),
    url: fc.oneof(
      trickyString,
      fc.constantFrom("http://127.0.0.1:9", "file:///etc/passwd", "javascript:alert(1)"),
    ),
    status: fc.constantFrom("active", "ended", "all", "ALL", ""),
    limit: trickyNumber,
    // Ownership and waiting: a caller may try to pick an owner, forge a secret, or wait (briefly here).
    owner: fc.oneof(trickyString, fc.constantFrom("operator", "key:0123456789abcdef", "addr:127.0.0.1")),
    sessionSecret: fc.oneof(trickyString, fc.constant(null)),
    idempotencyKey: trickyString,
    waitS: fc.oneof(
      fc.constantFrom(0, -1, 0.05, 301, Number.NaN),
      fc.double({ min: 0, max: 0.2, noNaN: true }),
    ),
    __proto__: fc.constant({ polluted: true }),
    constructor: fc.constant({ prototype: { polluted: true } }),
  },
  { requiredKeys: [] },
);
const deep = fc.integer({ min: 1, max: 20_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`);
const deepObject = fc.integer({ min: 1, max: 5000 }).map((n) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`);
const body = fc.oneof(
  nearlyValid.map((o) => JSON.stringify(o)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.constantFrom(
    "",
    "null",
    "NaN",
    "Infinity",
    "1e400",
    '{"vehicleId":"ev","maxKw":1e400}',
    "{",
    "[]",
    '"x"',
    "\u0000",
  ),
  deep,
  deepObject,
  fc.constant(`{"vehicleId":"${"x".repeat(70_000)}"}`),
);
const request = fc.record({
  target: fc.constantFrom(...PROCEDURES),
  legacy: fc.boolean(),
  // Mostly the procedure's own method and JSON, to get past routing into validation and the domain.
  method: fc.oneof(
    { weight: 4, arbitrary: fc.constant("auto") },
    { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH") },
  ),
  contentType: fc.oneof(
    { weight: 4, arbitrary: fc.constant("application/json") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        null,
      ),
    },
  ),
  body,
  withToken: fc.boolean(),
  // How it travels: one call, a batch of 1-60 calls (POST body or GET URL), or a chunked body of no length.
  shape: fc.oneof(
    { weight: 6, arbitrary: fc.constant<"single">("single") },
    { weight: 1, arbitrary: fc.constant<"chunked">("chunked") },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }) },
  ),
  /** A batch's input: one item per call (tRPC's shape), or the raw body as the whole input. */
  batchItems: fc.boolean(),
});

/** One call on a link, as a fuzzer varies it: ids, methods and params of every kind. */
const wsCall = fc.record(
  {
    id: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 2 ** 31 }) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constant(null),
          fc.double(),
          fc.object(),
          fc.constant(-1),
        ),
      },
    ),
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("query", "mutation") },
      {
        weight: 1,
        arbitrary: fc.constantFrom("subscription", "subscription.stop", "connectionParams", "teleport", ""),
      },
    ),
    params: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ path: fc.constantFrom(...PROCEDURES.map(([, p]) => p)), input: nearlyValid }),
      },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.record({ path: fc.constantFrom("nope", "__proto__", "constructor", "toString", "") }),
          fc.jsonValue(),
        ),
      },
    ),
    traceparent: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 60 })),
  },
  { requiredKeys: ["id", "method"] },
);
/** A frame: one call, a batch of calls, not JSON, any JSON, or over the 64 KiB a link takes. */
const wsFrame = fc
  .record({
    app: fc.constantFrom<App>("balancer", "substation"),
    withToken: fc.oneof(
      { weight: 9, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    body: fc.oneof(
      { weight: 5, arbitrary: wsCall.map((c) => [c]) },
      { weight: 2, arbitrary: fc.array(wsCall, { minLength: 0, maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
      { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ raw: JSON.stringify(v) ?? "null" })) },
      {
        weight: 1,
        arbitrary: fc.constant({
          raw: `{"id":1,"method":"query","params":{"path":"${"x".repeat(70_000)}"}}`,
        }),
      },
    ),
  })
  .map(({ app, withToken, body }) => {
    if (typeof body === "string") return { app, withToken, frame: body, ids: [] as unknown[] };
    if (!Array.isArray(body)) return { app, withToken, frame: body.raw, ids: [] as unknown[] };
    const frame = JSON.stringify(body.length === 1 ? body[0] : body);
    // Answered for sure: calls whose id a server can use, once each (a repeated id may be refused as running).
    // An id must survive JSON: NaN and ±Infinity are sent as null, which names no call.
    const usable = (id: unknown) => (typeof id === "number" && Number.isFinite(id)) || typeof id === "string";
    const ids = body.every((c) => usable(c.id))
      ? body.filter((c) => c.method === "query" || c.method === "mutation").map((c) => c.id)
      : [];
    return { app, withToken, frame, ids: new Set(ids).size === ids.length ? ids : [] };
  });

interface FuzzLink {
  url: string;
  ws: WebSocket;
  received: string[];
  closed(): { code: number; reason: string } | null;
  closedWithin(ms: number): Promise<{ code: number; reason: string } | null>;
}

/** A raw WebSocket to a link endpoint, keeping every message and how it closed. */
async function openFuzzLink(url: string, headers: Record<string, string>): Promise<FuzzLink> {
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  const received: string[] = [];
  let closed: { code: number; reason: string } | null = null;
  const closing = new Promise<void>((resolve) =>
    ws.addEventListener("close", (e) => {
      closed = { code: e.code, reason: e.reason };
      resolve();
    }),
  );
  ws.addEventListener("message", (e) => received.push(String(e.data)));
  await Promise.race([new Promise((resolve) => ws.addEventListener("open", resolve)), closing]);
  return {
    url,
    ws,
    received,
    closed: () => closed,
    closedWithin: async (ms) => {
      await within(closing, ms, undefined);
      return closed;
    },
  };
}

/** A body sent without a length, in small pieces, as a streaming client (or an attacker) sends it. */
const chunked = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(ctl) {
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < bytes.length; i += 1024) ctl.enqueue(bytes.slice(i, i + 1024));
      ctl.close();
    },
  });

/** The body as JSON if it is JSON, else the text itself (so a batch item can be anything). */
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

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

/**
 * What the hostile-input fuzz run (fuzz.e2e.test.ts) sends: every procedure it aims at, nearly valid and
 * plainly hostile inputs, HTTP requests, WebSocket frames for the internal links, and a raw link to send them.
 */
import { within } from "@evgrid/testing";
import fc from "fast-check";

export type App = "chargeApi" | "balancer" | "substation";
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
export const request = fc.record({
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
export const wsFrame = fc
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

export interface FuzzLink {
  url: string;
  ws: WebSocket;
  received: string[];
  closed(): { code: number; reason: string } | null;
  closedWithin(ms: number): Promise<{ code: number; reason: string } | null>;
}

/** A raw WebSocket to a link endpoint, keeping every message and how it closed. */
export async function openFuzzLink(url: string, headers: Record<string, string>): Promise<FuzzLink> {
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
export const chunked = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(ctl) {
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < bytes.length; i += 1024) ctl.enqueue(bytes.slice(i, i + 1024));
      ctl.close();
    },
  });

/** The body as JSON if it is JSON, else the text itself (so a batch item can be anything). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

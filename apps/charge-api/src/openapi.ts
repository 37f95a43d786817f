/**
 * The public API as an OpenAPI 3.1 document, for integrators in any language: served at GET /openapi.json and
 * committed as docs/openapi.json (`bun run openapi`; a test keeps the two equal). Generated from the router's
 * validators and the contract's answer schemas (packages/kit openapi.ts), never written by hand.
 */
import type { Balancers } from "@evgrid/balancer/pool";
import {
  chargeGrantSchema,
  gridStatusSchema,
  ownedSessionSchema,
  publicSessionSchema,
  sessionUpdateSchema,
} from "@evgrid/contract";
import {
  errorResponses,
  type ProcedureDoc,
  type RouteHandler,
  routerOpenApi,
  trpcComponents,
} from "@evgrid/kit";
import type { TRPCError } from "@trpc/server";
import type { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { ChargeDesk } from "./desk.ts";
import type { RouterOutputs } from "./index.ts";
import { legacyPrefixes } from "./legacy.ts";
import { RateLimiter } from "./rate-limit.ts";
import { type ChargeApiRouter, chargeApiRouter } from "./router.ts";

/** What each procedure answers (a subscription: each event). Not checked per call; the types below are. */
const outputs = {
  requestCharge: chargeGrantSchema,
  stopCharge: publicSessionSchema,
  getSession: ownedSessionSchema,
  watchSession: sessionUpdateSchema,
  gridStatus: gridStatusSchema,
};

// The schemas must say exactly what the router returns: a field added on either side alone fails here.
type Answer<T> = T extends AsyncIterable<infer E> ? E : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const outputsMatchRouter: {
  [K in keyof RouterOutputs]: Same<z.output<(typeof outputs)[K]>, Answer<RouterOutputs[K]>>;
} = { requestCharge: true, stopCharge: true, getSession: true, watchSession: true, gridStatus: true };
void outputsMatchRouter;

const docs: Record<keyof RouterOutputs, ProcedureDoc> = {
  requestCharge: {
    summary: "Start a charging session",
    description:
      "Starts a session on the substation with the most headroom, or says why none can (`GRID_FULL`, " +
      "quotas, ...). Either `durationS` (default 5 s) or `energyKwh`. With `waitS` a request that finds " +
      "the grid full waits for power. Retrying with the same `idempotencyKey` returns the same session.",
  },
  stopCharge: {
    summary: "Stop a session",
    description:
      "Open mode: send the `sessionSecret` requestCharge returned. Answers the session as ended. A booking " +
      "that went on at a charger of another substation (`moved`) stops the session it went on in, and " +
      "answers that one (503 UPSTREAM_UNAVAILABLE while that substation cannot answer).",
  },
  getSession: {
    summary: "Read a session",
    description:
      "Open mode: send the `sessionSecret` requestCharge returned. A booking claimed at a charger of " +
      "another substation ends `moved`; `movedTo` names the session it goes on in there (with its secret in " +
      "open mode; null until it is admitted there; 503 UPSTREAM_UNAVAILABLE while that substation cannot " +
      "answer).",
  },
  watchSession: {
    summary: "Watch a session's power, energy and end",
    description:
      "Streams each change of the session until it ends (then the stream closes). Open mode: send the " +
      "`sessionSecret`. Needs the charge-api's internal calls on links (INTERNAL_TRANSPORT=ws, the default).",
  },
  gridStatus: {
    summary: "Every substation's load and the grid totals",
  },
};

/** What a public caller can meet; each is answered in the error shape, 429 and 503 with Retry-After. */
const errorCodes: TRPCError["code"][] = [
  "BAD_REQUEST",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "UNPROCESSABLE_CONTENT",
  "TOO_MANY_REQUESTS",
  "INTERNAL_SERVER_ERROR",
  "SERVICE_UNAVAILABLE",
];

const securitySchemes = {
  apiKey: {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description:
      "An API key (required when the charge-api is started with API_KEYS). The key owns the sessions it " +
      "starts: no sessionSecret is needed for them.",
  },
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "`Authorization: Bearer <API key>` (the same as X-API-Key), or the grid's service token: the " +
      "operator, who may act on any session and has no quota.",
  },
};

// `{}`: open mode (no API_KEYS), where the caller is its address and proves a session with its secret.
const security: Record<string, string[]>[] = [{}, { apiKey: [] }, { bearer: [] }];

const DESCRIPTION = `The public API of evgrid, a load balancer for EV charging: tRPC over plain JSON (no transformer).

- Mutations are \`POST /trpc/<name>\` with the input as the JSON body (\`content-type: application/json\`);
  queries are \`GET /trpc/<name>?input=<URL-encoded JSON>\`; the subscription answers server-sent events.
- An answer is \`{"result":{"data":...}}\`; an error is \`{"error":{"message","code","data":{"code","httpStatus","reason",...}}}\`
  with a stable \`data.reason\` to branch on (the \`Error\` schema lists every reason).
- Who calls: an API key (\`X-API-Key\` or \`Authorization: Bearer\`) when the charge-api has API_KEYS; otherwise
  anyone (open mode). In open mode \`requestCharge\` returns a \`sessionSecret\`, and \`getSession\`, \`stopCharge\`
  and \`watchSession\` need it in their input: it is the proof of ownership, carried in the JSON input, not a header.
- \`POST /request_charge\` is the original system's text endpoint, kept byte-compatible.`;

/** The legacy text route: no body needed, every field of requestCharge optional, one line of text back. */
function legacyPath(requestChargeInput: Record<string, unknown>): Record<string, unknown> {
  const { required: _required, ...optionalFields } = requestChargeInput;
  const text = (description: string, example: string) => ({
    description,
    content: { "text/plain": { schema: { type: "string" }, example: `${example}\n` } },
  });
  const errors = Object.fromEntries(
    Object.keys(errorResponses(errorCodes)).map((status) => {
      const prefix = legacyPrefixes[Number(status)] ?? "Error";
      const quota = status === "429" ? " (over a quota: `Too many requests: <why>`)" : "";
      return [status, text(`One line of text: \`${prefix}: <why>\`${quota}.`, `${prefix}: <why>`)];
    }),
  );
  return {
    post: {
      operationId: "legacyRequestCharge",
      summary: "The original system's request (text)",
      description:
        "No body needed (a vehicle id is made up); an optional JSON body may carry requestCharge's fields. " +
        "The same caller and quotas as requestCharge. 429 and 503 carry Retry-After when there is one.",
      tags: ["legacy"],
      security,
      requestBody: { required: false, content: { "application/json": { schema: optionalFields } } },
      responses: {
        "200": text("The substation that took the session.", "Routed to substation-1"),
        ...errors,
      },
    },
  };
}

/** The document for this router (its shape only: no procedure is called). */
export function chargeApiOpenApi(router: ChargeApiRouter): Record<string, unknown> {
  const { paths, schemas } = routerOpenApi(router, { outputs, docs, errorCodes, security });
  const common = trpcComponents();
  const requestChargeInput = schemas.RequestChargeInput as Record<string, unknown>;
  return {
    openapi: "3.1.0",
    info: { title: "evgrid charge-api", version: pkg.version, description: DESCRIPTION },
    // Relative: the host that served this document (or wherever the charge-api runs, default :8080).
    servers: [{ url: "/", description: "the charge-api that serves this document" }],
    tags: [
      { name: "mutations", description: "POST with a JSON body" },
      { name: "queries", description: "GET with ?input=<JSON>" },
      { name: "subscriptions", description: "GET with ?input=<JSON>, answered as server-sent events" },
      { name: "legacy", description: "the original system's text endpoint" },
    ],
    paths: { "/request_charge": legacyPath(requestChargeInput), ...paths },
    components: {
      ...common,
      schemas: { ...(common.schemas as object), ...schemas },
      securitySchemes,
    },
  };
}

/** The router built only to be described: its procedures are never called, so it needs no balancer. */
export function describedChargeApi(): Record<string, unknown> {
  const unused = {} as Balancers;
  const desk = new ChargeDesk(unused, {
    callTimeoutMs: 1,
    serviceToken: "unused",
    rate: new RateLimiter({ ratePerS: 1, burst: 1 }),
    maxWaiting: 0,
  });
  const router = chargeApiRouter(desk);
  return chargeApiOpenApi(router);
}

/** The document as committed and served: two-space JSON, one final newline. */
export const openApiText = (doc: Record<string, unknown>) => `${JSON.stringify(doc, null, 2)}\n`;

/** GET /openapi.json: the document, made once at start. */
export function openApiRoute(router: ChargeApiRouter): RouteHandler {
  const body = openApiText(chargeApiOpenApi(router));
  return ({ req }) =>
    req.method === "GET" || req.method === "HEAD"
      ? new Response(req.method === "HEAD" ? null : body, {
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache" },
        })
      : new Response("use GET /openapi.json\n", { status: 405, headers: { allow: "GET, HEAD" } });
}

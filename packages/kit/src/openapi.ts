/**
 * A tRPC router as OpenAPI 3.1 sees it: every procedure exactly as it is called over HTTP today (a mutation
 * is `POST /trpc/<name>` with its input as the JSON body, a query `GET /trpc/<name>?input=<JSON>`, a
 * subscription the same GET answered as server-sent events), in tRPC's own envelope and with the error
 * shape formatError (trpc.ts) gives. Schemas come from the procedures' zod validators and the answers'
 * zod schemas through zod's own JSON Schema output (draft 2020-12, which OpenAPI 3.1 uses): nothing is
 * written by hand, so a field added to the contract appears in the document.
 */
import { errorDataSchema, reasons } from "@evgrid/contract";
import { type AnyRouter, TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { z } from "zod";

type Json = Record<string, unknown>;
type ProcedureType = "query" | "mutation" | "subscription";

export interface ProcedureDoc {
  summary: string;
  description?: string;
}

export interface RouterOpenApiOptions {
  /** What each procedure answers (a subscription: each event's data); every procedure must have one. */
  outputs: Record<string, z.ZodType>;
  docs: Record<string, ProcedureDoc>;
  /** Error statuses a caller of these procedures may meet (tRPC codes); each is answered in the error shape. */
  errorCodes: readonly TRPCError["code"][];
  /** The security requirement of every procedure (OpenAPI `security`). */
  security: Record<string, string[]>[];
}

/**
 * A zod schema as a JSON Schema to embed in the document (the `$schema` key belongs to whole files only).
 * Answers are open: a later version may add fields, which clients must ignore. Inputs stay as strict as the
 * validators (unknown fields are refused).
 */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: ({ jsonSchema: s }) => {
      if (io === "output" && s.additionalProperties === false) delete s.additionalProperties;
      // z.number().int()'s safe-integer bounds say nothing a reader needs.
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
    },
  }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const capitalized = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);
export const statusOf = (code: TRPCError["code"]) => getHTTPStatusCodeFromError(new TRPCError({ code }));

/** tRPC's error envelope as every app formats it: a JSON-RPC code, and data with the stable reason. */
export const trpcErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    /** JSON-RPC 2.0 error code (tRPC's). */
    code: z.number().int(),
    data: errorDataSchema.extend({
      code: z.enum(Object.keys(TRPC_ERROR_CODES_BY_KEY) as [TRPCError["code"], ...TRPCError["code"][]]),
      httpStatus: z.number().int(),
      reason: z.enum(Object.values(reasons)),
    }),
  }),
});

/** Components every tRPC-over-HTTP document shares: the error body, its response, the Retry-After header. */
export function trpcComponents(): Json {
  return {
    schemas: { Error: jsonSchemaOf(trpcErrorSchema, "output") },
    headers: {
      RetryAfter: {
        description:
          "Seconds to wait before trying again (quotas, a full grid or queue, a store rebuilding).",
        schema: { type: "integer", minimum: 1 },
      },
    },
    responses: {
      Error: {
        description:
          "An error in tRPC's envelope: branch on `error.data.reason` (stable), never on the message. " +
          "Input errors carry `data.fieldErrors` by field; refusals may carry `data.details`.",
        headers: { "Retry-After": { $ref: "#/components/headers/RetryAfter" } },
        content: { "application/json": { schema: ref("Error") } },
      },
    },
  };
}

/** Every code's status, once, each answered with the shared error response. */
export function errorResponses(codes: readonly TRPCError["code"][]): Json {
  const out: Json = {};
  for (const code of codes) out[String(statusOf(code))] = { $ref: "#/components/responses/Error" };
  return out;
}

const envelope = (data: Json) => ({
  type: "object",
  required: ["result"],
  properties: { result: { type: "object", required: ["data"], properties: { data: data } } },
});

/**
 * Server-sent events as tRPC's httpSubscriptionLink protocol sends them, one item per event, as OpenAPI 3.2's
 * `itemSchema` would say it (3.1 has no such keyword: the stream is described as the sequence of its events).
 */
const sseStream = (data: Json) => ({
  type: "array",
  description:
    "Server-sent events: first `event: connected`, then one event per update (no `event:` line) whose " +
    "`data:` is the JSON below, `event: ping` keep-alives, and `event: return` when the stream ends. An " +
    "error before the stream starts is a JSON error response; one after is `event: serialized-error`.",
  items: {
    type: "object",
    required: ["data"],
    properties: {
      event: { type: "string", enum: ["connected", "ping", "return", "serialized-error"] },
      id: { type: "string" },
      data: { type: "string", contentMediaType: "application/json", contentSchema: data },
    },
  },
});

/** One procedure's operation, as a caller must send it. */
function operation(name: string, type: ProcedureType, hasInput: boolean, opts: RouterOpenApiOptions): Json {
  const doc = opts.docs[name];
  const input = ref(`${capitalized(name)}Input`);
  const output = ref(`${capitalized(name)}Output`);
  const op: Json = {
    operationId: name,
    summary: doc?.summary ?? name,
    ...(doc?.description ? { description: doc.description } : {}),
    tags: [type === "mutation" ? "mutations" : type === "query" ? "queries" : "subscriptions"],
    security: opts.security,
  };
  if (hasInput && type === "mutation") {
    op.requestBody = { required: true, content: { "application/json": { schema: input } } };
  } else if (hasInput) {
    op.parameters = [
      {
        name: "input",
        in: "query",
        required: true,
        description: "The input as JSON, URL-encoded.",
        content: { "application/json": { schema: input } },
      },
    ];
  }
  const ok =
    type === "subscription"
      ? {
          description: `A stream of ${name} events.`,
          content: {
            "text/event-stream": { schema: sseStream(output) },
          },
        }
      : {
          description: "tRPC's result envelope: the answer is `result.data`.",
          content: { "application/json": { schema: envelope(output) } },
        };
  op.responses = { "200": ok, ...errorResponses(opts.errorCodes) };
  return op;
}

/** The router's procedures as OpenAPI paths under /trpc, with their input and output schemas. */
export function routerOpenApi(router: AnyRouter, opts: RouterOpenApiOptions): { paths: Json; schemas: Json } {
  const paths: Json = {};
  const schemas: Json = {};
  const procedures = router._def.procedures as Record<
    string,
    { _def: { type: ProcedureType; inputs: z.ZodType[] } }
  >;
  for (const name of Object.keys(procedures).sort()) {
    const def = procedures[name]?._def;
    if (!def) continue;
    const output = opts.outputs[name];
    if (!output) throw new Error(`no output schema for procedure ${name}`);
    // tRPC merges chained .input() calls; ours use one validator each.
    if (def.inputs.length > 1) throw new Error(`procedure ${name} has ${def.inputs.length} input validators`);
    const input = def.inputs[0];
    if (input) schemas[`${capitalized(name)}Input`] = jsonSchemaOf(input, "input");
    schemas[`${capitalized(name)}Output`] = jsonSchemaOf(output, "output");
    const method = def.type === "mutation" ? "post" : "get";
    paths[`/trpc/${name}`] = { [method]: operation(name, def.type, input !== undefined, opts) };
  }
  for (const name of Object.keys(opts.outputs)) {
    if (!procedures[name]) throw new Error(`output schema for ${name}, which is no procedure`);
  }
  return { paths, schemas };
}

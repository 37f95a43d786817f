/**
 * The one place tRPC is initialised. Every app builds its router from these builders, so every app
 * formats errors the same way: a tRPC code, a stable `reason`, the failing fields, never a stack.
 */
import { OPERATOR, reasons } from "@evgrid/contract";
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError, z } from "zod";
import { GridError } from "./errors.ts";
import { type Failure, observeProcedure, type RpcObservability, type TraceCarrier } from "./observe.ts";
import { type ApiKeys, tokenMatches } from "./token.ts";

// 1. Context: what every procedure may read about its request.
export interface RequestContext {
  /** null for in-process calls (the legacy text route calls the router directly) and internal links. */
  req: Request | null;
  /**
   * A call over an internal link (a WebSocket that proved the service token when it opened), with the
   * trace context its message carried; null over HTTP and in-process.
   */
  link: { traceparent?: string | undefined; tracestate?: string | undefined } | null;
  obs: RpcObservability | null;
  /** The token internal procedures require; null for apps that serve only public procedures. */
  serviceToken: string | null;
  /** Keys the public API accepts; none = open to anyone. */
  apiKeys: ApiKeys;
  /** The caller's address as this app trusts it (TRUST_PROXY), IPv6 by its /64; null in-process. */
  clientAddress: string | null;
  /**
   * When the caller gives up (epoch ms on this host's clock), from the budget its call carried
   * (deadline.ts); null or absent when it sent none. Work that would start after it must not start, and
   * calls made for this one pass it on (`{ context: { deadlineAtMs } }`).
   */
  deadlineAtMs?: number | null;
}

/** Who is calling a public procedure. */
export interface Caller {
  /** What owns the sessions it starts and names its quotas: `key:<id>`, `addr:<address>` or `operator`. */
  owner: string;
  /** Holds the service token: may act on any session, and no quota applies. */
  operator: boolean;
}

// 2. Error shape.
const defaultReason: Partial<Record<TRPCError["code"], string>> = {
  BAD_REQUEST: reasons.INVALID_INPUT,
  PARSE_ERROR: reasons.INVALID_INPUT,
  NOT_FOUND: reasons.NOT_FOUND,
  METHOD_NOT_SUPPORTED: reasons.INVALID_INPUT,
  PAYLOAD_TOO_LARGE: reasons.PAYLOAD_TOO_LARGE,
  UNSUPPORTED_MEDIA_TYPE: reasons.UNSUPPORTED_MEDIA_TYPE,
  UNAUTHORIZED: reasons.UNAUTHORIZED,
};

/** A validation failure as callers read it: one line naming each field, and the messages by field. */
export function describeZodError(error: ZodError): {
  message: string;
  fieldErrors: Record<string, string[]>;
} {
  // A Map, not an object: field names come from the caller, and "constructor" or "__proto__" must not
  // find Object.prototype's members (found by the fuzz test).
  const byField = new Map<string, string[]>();
  const add = (field: string, message: string) =>
    byField.set(field, [...(byField.get(field) ?? []), message]);
  for (const issue of error.issues) {
    const prefix = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      // Name the unknown field itself, so a typo like `maxkW` points at the culprit.
      for (const key of issue.keys) add(prefix ? `${prefix}.${key}` : key, "unknown field");
    } else {
      add(prefix || "(input)", issue.message);
    }
  }
  const message = [...byField.entries()]
    .map(([field, messages]) => `${field}: ${messages.join("; ")}`)
    .join(", ");
  // defineProperty-style construction: a "__proto__" field becomes an own key, not a prototype.
  const fieldErrors = Object.fromEntries(byField) as Record<string, string[]>;
  return { message: `invalid input: ${message}`, fieldErrors };
}

// 3. Initialisation. The formatter is exported so errors answered outside tRPC (http-errors.ts) share its shape.
type DefaultShape = {
  message: string;
  code: number;
  data: { code: TRPCError["code"]; httpStatus: number; path?: string; stack?: string };
};

export function formatError({ shape, error }: { shape: DefaultShape; error: TRPCError }) {
  // Stack traces never leave the process, whatever NODE_ENV says.
  const { stack: _stack, ...data } = shape.data;
  if (error.cause instanceof ZodError) {
    const { message, fieldErrors } = describeZodError(error.cause);
    return { ...shape, message, data: { ...data, reason: reasons.INVALID_INPUT, fieldErrors } };
  }
  if (error instanceof GridError) {
    const fields = error.fieldErrors === undefined ? {} : { fieldErrors: error.fieldErrors };
    return { ...shape, data: { ...data, reason: error.reason, details: error.details, ...fields } };
  }
  const reason = defaultReason[error.code] ?? reasons.INTERNAL;
  const message = error.code === "INTERNAL_SERVER_ERROR" ? "internal error" : shape.message;
  return { ...shape, message, data: { ...data, reason } };
}

const t = initTRPC.context<RequestContext>().create({ isDev: false, errorFormatter: formatError });

// 4. Every procedure is a SERVER span and a point in the RED histogram.
/** A link call without a trace context: nothing to extract, and no closure made for it. */
const NO_TRACE: TraceCarrier = { remote: true, get: () => undefined };

/** Where the caller's trace context is: the request's headers, an internal link's message, or nowhere. */
export function traceCarrier(ctx: RequestContext): TraceCarrier {
  if (ctx.req) return { remote: true, get: (key) => ctx.req?.headers.get(key) ?? undefined };
  if (ctx.link) {
    const { traceparent, tracestate } = ctx.link;
    if (traceparent === undefined) return NO_TRACE;
    return {
      remote: true,
      get: (key) => (key === "traceparent" ? traceparent : key === "tracestate" ? tracestate : undefined),
    };
  }
  return { remote: false, get: () => undefined };
}

/** What a failed call records: its code, message and (a GridError's, or bad input's) reason. */
export function failureOf(error: TRPCError): Failure {
  const reason =
    error instanceof GridError
      ? error.reason
      : error.cause instanceof ZodError
        ? reasons.INVALID_INPUT
        : undefined;
  return { code: error.code, message: error.message, reason };
}

const observed = t.middleware(({ ctx, path, next }) => {
  if (!ctx.obs) return next();
  return observeProcedure(ctx.obs, traceCarrier(ctx), path, next, (result) =>
    result.ok ? undefined : failureOf(result.error),
  );
});

// 5. Internal and admin procedures need the service token (Authorization: Bearer <SERVICE_TOKEN>).
const serviceOnly = t.middleware(({ ctx, next }) => {
  // In-process calls (ctx.req null) come from this app itself; an internal link proved the token when it opened.
  if (ctx.req !== null && !tokenMatches(ctx.serviceToken, ctx.req.headers.get("authorization"))) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: "this procedure is internal: send Authorization: Bearer <service token>",
    });
  }
  return next();
});

// 6. Public procedures know their caller: an operator (the service token), an API key (required when
// API_KEYS is set), or, in open mode, an address. In-process calls (ctx.req null) are the app itself.
const OPERATOR_CALLER: Caller = { owner: OPERATOR, operator: true };

export function identifyCaller(ctx: RequestContext): Caller {
  // In-process, or over an internal link (which proved the service token): the grid itself.
  if (ctx.req === null) return OPERATOR_CALLER;
  const { headers } = ctx.req;
  if (tokenMatches(ctx.serviceToken, headers.get("authorization"))) return OPERATOR_CALLER;
  if (!ctx.apiKeys.open) {
    const owner = ctx.apiKeys.ownerOf(headers);
    if (owner === null) {
      throw new TRPCError({
        code: "UNAUTHORIZED",
        message: "send an API key: Authorization: Bearer <key> or X-API-Key",
      });
    }
    return { owner, operator: false };
  }
  return { owner: `addr:${ctx.clientAddress ?? "unknown"}`, operator: false };
}

const identified = t.middleware(({ ctx, next }) => next({ ctx: { caller: identifyCaller(ctx) } }));

// 7. Router and procedure builders.
export const router = t.router;
/** For anyone (holding an API key, if the app has API_KEYS): the charge-api's procedures. `ctx.caller` says who. */
export const publicProcedure = t.procedure.use(observed).use(identified);
/** The two middlewares every public procedure starts with, as tRPC holds them (prepared.ts finds them). */
export const publicChain: readonly unknown[] = [...observed._middlewares, ...identified._middlewares];

/** Each gate's check, by the middleware tRPC holds for it (prepared.ts runs the check itself). */
const gateChecks = new WeakMap<object, (caller: Caller) => void>();

/**
 * A public procedure whose caller is checked before its input is read (an app's rate quota): `check` throws
 * to refuse the call. Prepared calls (prepared.ts) run the same check at the same step.
 */
export function gatedPublicProcedure(check: (caller: Caller) => void) {
  const gated = publicProcedure.use(({ ctx, next }) => {
    check(ctx.caller);
    return next();
  });
  gateChecks.set(gated._def.middlewares.at(-1) as object, check);
  return gated;
}

/** The check of a gate made by gatedPublicProcedure; undefined for any other middleware. */
export const gateCheckOf = (middleware: unknown) => gateChecks.get(middleware as object);
/** For the other services of the grid (and operators) holding the service token. */
export const internalProcedure = t.procedure.use(observed).use(serviceOnly);
/** The two middlewares every internal procedure starts with, as tRPC holds them (prepared.ts finds them). */
export const internalChain: readonly unknown[] = [...observed._middlewares, ...serviceOnly._middlewares];
export { z };

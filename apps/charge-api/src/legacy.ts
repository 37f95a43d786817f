import { randomUUID } from "node:crypto";
import {
  describeZodError,
  identifyCaller,
  legacyVehicleFor,
  type RequestContext,
  type RouteHandler,
  retryAfterOf,
} from "@evgrid/kit";
import { resolveProcedures } from "@evgrid/link";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { ZodError } from "zod";
import type { ChargeApiRouter } from "./router.ts";

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(`${body.replace(/\s*\n\s*/g, " ")}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });

/** The first words of a refusal, by status (the OpenAPI document lists them too). */
export const legacyPrefixes: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  409: "Conflict",
  413: "Too large",
  415: "Unsupported media type",
  422: "Bad request",
  429: "Grid full",
  503: "Unavailable",
};

/**
 * The original system's `POST /request_charge`, kept byte-compatible for its clients: no body needed,
 * `200 Routed to <substation-id>`. An optional JSON body may carry the same fields as requestCharge.
 * Failures are one line of text with the right status (429 grid full or over quota, with Retry-After when
 * there is one; 503 nothing reachable), never HTML. Same caller, same quotas as the tRPC route.
 */
export function legacyRequestCharge(router: ChargeApiRouter): RouteHandler {
  const requestCharge = resolveProcedures(router)("requestCharge");
  if (!requestCharge) throw new Error("the charge-api router has no requestCharge");
  return async ({ req, ctx, body: raw }) => {
    if (req.method !== "POST") return text(405, "use POST /request_charge", { allow: "POST" });
    let body: Record<string, unknown> = {};
    if (raw.trim().length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new Error("not an object");
        body = parsed as Record<string, unknown>;
      } catch {
        return text(400, "Bad request: body must be empty or a JSON object");
      }
    }
    try {
      // In-process call through the same procedure (and middleware: caller, quota, span, metrics).
      const input = { vehicleId: legacyVehicleOf(ctx, body.idempotencyKey), ...body };
      const grant = (await requestCharge.call(ctx, input, req.signal)) as { substationId: string };
      return text(200, `Routed to ${grant.substationId}`);
    } catch (err) {
      return refusal(err);
    }
  };
}

/** A failure as one line of text with its status (and Retry-After when there is one). */
function refusal(err: unknown): Response {
  if (!(err instanceof TRPCError)) return text(500, "Internal error");
  const status = getHTTPStatusCodeFromError(err);
  const retryAfterS = retryAfterOf(err);
  const prefix = status === 429 && /quota/i.test(err.message) ? "Too many requests" : legacyPrefixes[status];
  // Bad input says which fields, as the tRPC route's message does, not the validator's raw issues.
  const message = err.cause instanceof ZodError ? describeZodError(err.cause).message : err.message;
  const headers: Record<string, string> = retryAfterS > 0 ? { "retry-after": String(retryAfterS) } : {};
  return text(status, `${prefix ?? "Error"}: ${message}`, headers);
}

/**
 * The original contract names no vehicle, so each request is a vehicle of its own, unless it carries an
 * idempotency key: then the same caller's retries with that key are the same vehicle (a random one each
 * time would make a retry "another vehicle" and refuse it), and the session comes back as a replay. Keyed
 * by the caller as its quotas are, under the service token, so no one else can name, or squat, that vehicle.
 */
function legacyVehicleOf(ctx: RequestContext, key: unknown): string {
  if (typeof key !== "string" || ctx.serviceToken === null) return `legacy-${randomUUID()}`;
  let owner: string;
  try {
    owner = identifyCaller(ctx).owner;
  } catch {
    return `legacy-${randomUUID()}`; // refused by the procedure anyway (no API key)
  }
  return legacyVehicleFor(ctx.serviceToken, owner, key);
}

import { randomUUID } from "node:crypto";
import { MAX_BODY_BYTES, type RpcObservability } from "@evgrid/kit";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import type { ChargeApiRouter } from "./router.ts";

const text = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(`${body.replace(/\s*\n\s*/g, " ")}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });

/**
 * The original system's `POST /request_charge`, kept byte-compatible for its clients: no body needed,
 * `200 Routed to <substation-id>`. An optional JSON body may carry the same fields as requestCharge.
 * Failures are one line of text with the right status (429 grid full, 503 nothing reachable), never HTML.
 */
export function legacyRequestCharge(router: ChargeApiRouter, apiKeys: readonly string[]) {
  return async (req: Request, obs: RpcObservability): Promise<Response> => {
    if (req.method !== "POST") return text(405, "use POST /request_charge", { allow: "POST" });
    let body: Record<string, unknown> = {};
    const raw = await req.text();
    if (raw.length > MAX_BODY_BYTES) return text(413, "Payload too large: the body may be at most 64 KiB");
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
      // In-process call through the same procedure (and middleware: span, metrics) as the tRPC route.
      const caller = router.createCaller({ req, obs, serviceToken: null, apiKeys });
      const grant = await caller.requestCharge({ vehicleId: `legacy-${randomUUID()}`, ...body } as never);
      return text(200, `Routed to ${grant.substationId}`);
    } catch (err) {
      if (!(err instanceof TRPCError)) return text(500, "Internal error");
      const status = getHTTPStatusCodeFromError(err);
      const prefix =
        status === 429
          ? "Grid full"
          : status === 503
            ? "Unavailable"
            : status === 400
              ? "Bad request"
              : status === 401
                ? "Unauthorized"
                : "Error";
      return text(status, `${prefix}: ${err.message}`);
    }
  };
}

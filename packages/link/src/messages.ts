/**
 * The messages of tRPC's WebSocket protocol as link-server.ts reads them (parsed and checked, nothing run),
 * and its refusals of an upgrade.
 */
export interface CallParams {
  path: string;
  input?: unknown;
}
export interface TraceFields {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}
export interface Message extends TraceFields {
  id?: string | number | null;
  /** What is left of the caller's deadline, in ms (ours; tRPC's own clients send none). */
  budgetMs?: unknown;
  /** The site of the peer's process the call is for (ours: link-sites.ts); none: the peer itself. */
  site?: unknown;
  method?: unknown;
  params?: unknown;
  data?: unknown;
}

/**
 * A frame: one message, or an array of them (tRPC's wsLink sends the calls of one tick together). Null when
 * it is not JSON, or not objects with a usable id.
 */
export function parseFrame(text: string): Message[] | null {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  const items = Array.isArray(frame) ? frame : [frame];
  if (items.length === 0) return null;
  const messages: Message[] = [];
  for (const item of items) {
    const msg = asMessage(item);
    if (!msg) return null;
    messages.push(msg);
  }
  return messages;
}

function asMessage(item: unknown): Message | null {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return null;
  const m = item as Record<string, unknown>;
  if (m.id !== undefined && m.id !== null && typeof m.id !== "string" && typeof m.id !== "number")
    return null;
  return {
    id: m.id as Message["id"],
    method: m.method,
    params: m.params,
    data: m.data,
    budgetMs: m.budgetMs,
    site: m.site,
    traceparent: typeof m.traceparent === "string" ? m.traceparent : undefined,
    tracestate: typeof m.tracestate === "string" ? m.tracestate : undefined,
  };
}

export const isCall = (method: unknown): method is "query" | "mutation" | "subscription" =>
  method === "query" || method === "mutation" || method === "subscription";

export const isParams = (params: unknown): params is CallParams =>
  typeof params === "object" && params !== null && typeof (params as CallParams).path === "string";

export function tooMany(max: number): Response {
  const message = `at most ${max} links from one address may wait to show the service token`;
  return Response.json({ error: { message, data: { reason: "TOO_MANY_REQUESTS" } } }, { status: 429 });
}

export function unauthorized(): Response {
  return Response.json(
    {
      error: {
        message: "internal link: send Authorization: Bearer <service token>",
        data: { reason: "UNAUTHORIZED" },
      },
    },
    { status: 401 },
  );
}

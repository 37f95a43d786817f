/**
 * The frames of tRPC's WebSocket protocol as both ends of our links read and write them (link-client.ts,
 * link-server.ts): messages alone or several in a JSON array.
 */

/** Serialized messages packed into frames of at most `maxBytes` (UTF-8): one alone, several as a JSON array. */
export function frames(messages: readonly string[], maxBytes: number): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let size = 2;
  const close = () => {
    if (batch.length === 1) out.push(batch[0] as string);
    else if (batch.length > 1) out.push(`[${batch.join(",")}]`);
    batch = [];
    size = 2;
  };
  for (const m of messages) {
    const bytes = Buffer.byteLength(m);
    if (batch.length > 0 && size + bytes + 1 > maxBytes) close();
    batch.push(m);
    size += bytes + 1;
  }
  close();
  return out;
}

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
    traceparent: typeof m.traceparent === "string" ? m.traceparent : undefined,
    tracestate: typeof m.tracestate === "string" ? m.tracestate : undefined,
  };
}

export const isCall = (method: unknown): method is "query" | "mutation" | "subscription" =>
  method === "query" || method === "mutation" || method === "subscription";

export const isParams = (params: unknown): params is CallParams =>
  typeof params === "object" && params !== null && typeof (params as CallParams).path === "string";

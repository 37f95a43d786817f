/**
 * A proxy in front of a substation that forwards as a real proxy would, over HTTP or over an internal link
 * (WebSocket, its Authorization header included), except for the calls `hangs` picks: those it takes and
 * never answers, as a wedged process does; and those `losesAnswer` picks: forwarded, done, but their answer
 * is lost on the way back; and those `garbles` picks: forwarded with an input the peer cannot read (`{}`),
 * as from a caller that does not share its contract. Counts calls per procedure (the path after /trpc/, or a
 * link message's params.path); each is asked again for every call, so a test can break and repair it.
 */
export function faultyProxy(
  target: string,
  hangs: (procedure: string) => boolean,
  losesAnswer: (procedure: string) => boolean = () => false,
  garbles: (procedure: string) => boolean = () => false,
) {
  const calls = new Map<string, number>();
  /** The budget (ms) each call carried, by procedure: what was left of its caller's deadline. */
  const budgets = new Map<string, number[]>();
  const count = (procedure: string, budgetMs: unknown) => {
    calls.set(procedure, (calls.get(procedure) ?? 0) + 1);
    const ms = Number(budgetMs);
    if (budgetMs !== null && budgetMs !== undefined && Number.isFinite(ms))
      budgets.set(procedure, [...(budgets.get(procedure) ?? []), ms]);
  };
  /** What of one client call goes upstream (undefined: it is taken and never answered); counts it. */
  const passOn = (lost: Set<unknown>, msg: unknown): unknown => {
    const call = msg as { id?: unknown; params?: { path?: unknown }; budgetMs?: unknown } | null;
    const path = call?.params?.path;
    if (typeof path !== "string") return msg;
    count(path, call?.budgetMs);
    if (hangs(path)) return undefined;
    if (losesAnswer(path) && call?.id !== undefined) lost.add(call.id);
    return garbles(path) ? { ...call, params: { path, input: {} } } : msg;
  };
  interface Relay {
    upstream: WebSocket;
    /** Messages from the client before the upstream link is open. */
    queued: string[];
    /** Ids of the calls whose answers are lost. */
    lost: Set<unknown>;
  }
  const server = Bun.serve<Relay>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === "/trpc" && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        const auth = req.headers.get("authorization");
        const upstream = new WebSocket(`${target.replace(/^http/, "ws")}/trpc${url.search}`, {
          headers: auth ? { authorization: auth } : {},
        } as unknown as string[]);
        if (srv.upgrade(req, { data: { upstream, queued: [], lost: new Set() } })) return undefined;
        upstream.close();
        return new Response("expected a WebSocket", { status: 400 });
      }
      const procedure = url.pathname.replace(/^\/trpc\//, "");
      count(procedure, req.headers.get("x-evgrid-budget-ms"));
      if (hangs(procedure)) return new Promise<Response>(() => {});
      const to = `${target}${url.pathname}${url.search}`;
      const headers = new Headers(req.headers);
      headers.delete("content-length");
      const forwarded = garbles(procedure)
        ? fetch(to, { method: "POST", headers, body: "{}" })
        : fetch(new Request(to, req));
      if (!losesAnswer(procedure)) return forwarded;
      return forwarded.then(() => new Promise<Response>(() => {}));
    },
    websocket: {
      open(ws) {
        const { upstream, queued, lost } = ws.data;
        upstream.addEventListener("open", () => {
          for (const m of queued.splice(0)) upstream.send(m);
        });
        upstream.addEventListener("message", (e) => {
          const text = String(e.data);
          const kept = lost.size === 0 ? text : withoutLost(text, lost);
          if (kept !== null) ws.send(kept);
        });
        upstream.addEventListener("close", (e) => ws.close(e.code === 1005 ? 1000 : e.code, e.reason));
      },
      message(ws, raw) {
        // A frame is one call or an array of them (the link sends the calls of one turn together): each call
        // is counted, taken or passed on by itself, as the peer would see it.
        const text = String(raw);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return relay(ws.data, text);
        }
        const calls: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
        const kept = calls.map((msg) => passOn(ws.data.lost, msg)).filter((m) => m !== undefined);
        if (kept.length === 0) return;
        const unchanged = kept.length === calls.length && kept.every((m, i) => m === calls[i]);
        if (unchanged) relay(ws.data, text);
        else relay(ws.data, JSON.stringify(Array.isArray(parsed) ? kept : kept[0]));
      },
      close(ws) {
        ws.data.upstream.close();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    calls: (procedure: string) => calls.get(procedure) ?? 0,
    budgets: (procedure: string) => budgets.get(procedure) ?? [],
    [Symbol.dispose]: () => server.stop(true),
  };
}

/** Sends a client's frame upstream, or queues it until the upstream link is open. */
function relay(data: { upstream: WebSocket; queued: string[] }, text: string): void {
  if (data.upstream.readyState === WebSocket.OPEN) data.upstream.send(text);
  else data.queued.push(text);
}

/** An upstream frame (one answer, or several in an array) without the answers to lost calls; null if none is left. */
function withoutLost(text: string, lost: Set<unknown>): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const isLost = (m: unknown) => lost.delete((m as { id?: unknown } | null)?.id);
  if (!Array.isArray(parsed)) return isLost(parsed) ? null : text;
  const kept = parsed.filter((m) => !isLost(m));
  if (kept.length === parsed.length) return text;
  return kept.length === 0 ? null : JSON.stringify(kept);
}

/**
 * A proxy in front of a substation that forwards as a real proxy would, over HTTP or over an internal link
 * (WebSocket, its Authorization header included), except for the calls `hangs` picks: those it takes and
 * never answers, as a wedged process does. Counts calls per procedure (the path after /trpc/, or a link
 * message's params.path); `hangs` is asked again for every call, so a test can break and repair it.
 */
export function faultyProxy(target: string, hangs: (procedure: string) => boolean) {
  const calls = new Map<string, number>();
  /** The budget (ms) each call carried, by procedure: what was left of its caller's deadline. */
  const budgets = new Map<string, number[]>();
  const count = (procedure: string, budgetMs: unknown) => {
    calls.set(procedure, (calls.get(procedure) ?? 0) + 1);
    const ms = Number(budgetMs);
    if (budgetMs !== null && budgetMs !== undefined && Number.isFinite(ms))
      budgets.set(procedure, [...(budgets.get(procedure) ?? []), ms]);
  };
  interface Relay {
    upstream: WebSocket;
    /** Messages from the client before the upstream link is open. */
    queued: string[];
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
        if (srv.upgrade(req, { data: { upstream, queued: [] } })) return undefined;
        upstream.close();
        return new Response("expected a WebSocket", { status: 400 });
      }
      const procedure = url.pathname.replace(/^\/trpc\//, "");
      count(procedure, req.headers.get("x-evgrid-budget-ms"));
      if (hangs(procedure)) return new Promise<Response>(() => {});
      return fetch(new Request(`${target}${url.pathname}${url.search}`, req));
    },
    websocket: {
      open(ws) {
        const { upstream, queued } = ws.data;
        upstream.addEventListener("open", () => {
          for (const m of queued.splice(0)) upstream.send(m);
        });
        upstream.addEventListener("message", (e) => ws.send(String(e.data)));
        upstream.addEventListener("close", (e) => ws.close(e.code === 1005 ? 1000 : e.code, e.reason));
      },
      message(ws, raw) {
        const text = String(raw);
        let path: string | undefined;
        let budgetMs: unknown;
        try {
          const msg = JSON.parse(text) as { params?: { path?: string }; budgetMs?: unknown };
          path = msg.params?.path;
          budgetMs = msg.budgetMs;
        } catch {}
        if (path !== undefined) {
          count(path, budgetMs);
          if (hangs(path)) return; // taken, never answered
        }
        const { upstream, queued } = ws.data;
        if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
        else queued.push(text);
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

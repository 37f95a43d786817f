/**
 * Nobody ties up an app with unauthenticated WebSockets: the public charge-api takes none (its API is HTTP
 * and SSE), an internal app closes a link that does not show the token within LINK_AUTH_TIMEOUT_MS and
 * caps such links per address (LINK_MAX_PENDING_PER_ADDRESS), and every app runs with its open-file limit raised to the
 * hard limit and says so.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { eventually, spawnApp, spawnListening, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

const TOKEN = "websocket-test-token-0123456789abcdef";

/** A WebSocket as a stranger opens it (no token, promising connectionParams), and what became of it. */
function stranger(httpUrl: string) {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, "ws")}/trpc?connectionParams=1`);
  const state = { opened: false, closed: null as { code: number; reason: string } | null };
  ws.onopen = () => {
    state.opened = true;
  };
  ws.onclose = (e) => {
    state.closed = { code: e.code, reason: e.reason };
  };
  return state;
}

describe("unauthenticated WebSockets", () => {
  test("the public charge-api refuses every upgrade; /healthz and /request_charge still answer", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    const sockets = Array.from({ length: 200 }, () => stranger(grid.api.url));
    await eventually(() => expect(sockets.filter((s) => s.closed === null)).toEqual([]));
    expect(sockets.filter((s) => s.opened)).toEqual([]);
    expect((await fetch(`${grid.api.url}/healthz`)).status).toBe(200);
    const legacy = await fetch(`${grid.api.url}/request_charge`, { method: "POST" });
    expect(await legacy.text()).toBe("Routed to substation-1\n");
  });

  test("an internal app: links per address capped, a silent link closed after the grace; still serving", async () => {
    await using sub = await spawnApp("substation", {
      SERVICE_TOKEN: TOKEN,
      SUBSTATION_DB_PATH: ":memory:",
      // Long enough that all 30, and the peer below, arrive while the first five still hold their slots.
      LINK_AUTH_TIMEOUT_MS: "3000",
      LINK_MAX_PENDING_PER_ADDRESS: "5",
    });
    const sockets = Array.from({ length: 30 }, () => stranger(sub.url));
    // While strangers hold every slot, a peer with the token still gets its link.
    await eventually(() => expect(sockets.filter((s) => s.opened)).toHaveLength(5));
    const peer = new WebSocket(`${sub.url.replace(/^http/, "ws")}/trpc`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    } as unknown as string[]);
    await new Promise((resolve, reject) => {
      peer.onopen = resolve;
      peer.onclose = reject;
    });
    peer.close();
    // Every one ends by itself: refused at the upgrade past the cap, or closed when its grace is up.
    await eventually(() => expect(sockets.filter((s) => s.closed === null)).toEqual([]), {
      timeoutMs: 15_000,
    });
    const opened = sockets.filter((s) => s.opened);
    expect(opened).toHaveLength(5);
    for (const s of opened)
      expect(s.closed).toEqual({ code: 4401, reason: "no service token within 3000 ms" });
    // The address's slots are free again: a peer with the token gets its link.
    const load = await sub.call("getLoad");
    expect(load.status).toBe(200);
    expect((await fetch(`${sub.url}/healthz`)).status).toBe(200);
    const again = stranger(sub.url);
    await eventually(() => expect(again.opened).toBe(true));
  });
});

describe("open-file limit", () => {
  test("started with a low soft limit, an app runs at its hard limit and reports it on /healthz", async () => {
    await using app = await spawnListening(
      ["bash", "-c", `ulimit -Sn 256 && exec "${process.execPath}" apps/balancer/src/main.ts`],
      { SERVICE_TOKEN: TOKEN, HOST: "127.0.0.1", PORT: "0" },
    );
    const limits = await Bun.file(`/proc/${app.pid}/limits`).text();
    const [, soft, hard] = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits) ?? [];
    expect(soft).toBe(hard as string);
    const health = (await (await fetch(`${app.url}/healthz`)).json()) as {
      openFilesLimit: { soft: number; hard: number };
    };
    expect(health.openFilesLimit).toEqual({ soft: Number(soft), hard: Number(hard) });
    expect(app.stdout()).toContain(`"openFilesLimit":${soft}`);
  });
});

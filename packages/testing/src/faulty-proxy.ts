/**
 * A proxy in front of a substation that forwards as a real proxy would (headers included) except for the
 * requests `hangs` picks: those it accepts and never answers, as a wedged process does. Counts requests per
 * procedure (the path after /trpc/).
 */
export function faultyProxy(target: string, hangs: (procedure: string) => boolean) {
  const calls = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const procedure = url.pathname.replace(/^\/trpc\//, "");
      calls.set(procedure, (calls.get(procedure) ?? 0) + 1);
      if (hangs(procedure)) return new Promise<Response>(() => {});
      return fetch(new Request(`${target}${url.pathname}${url.search}`, req));
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    calls: (procedure: string) => calls.get(procedure) ?? 0,
    [Symbol.dispose]: () => server.stop(true),
  };
}

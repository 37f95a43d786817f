/** Metric attributes are bound once per (procedure, code), on both ends of a call, and say the same as before. */
import { describe, expect, test } from "bun:test";
import { observeCalls } from "../src/call-observer.ts";
import { procedureObserver, type RpcObservability } from "../src/observe.ts";

function recordingObs() {
  const server: unknown[] = [];
  const client: unknown[] = [];
  const obs = {
    service: "test",
    telemetry: { tracing: false },
    serverDuration: { record: (_s: number, attributes: unknown) => server.push(attributes) },
    clientDuration: { record: (_s: number, attributes: unknown) => client.push(attributes) },
    procedures: new Map(),
  } as unknown as RpcObservability;
  return { obs, server, client };
}

describe("metric attributes", () => {
  test("an outgoing call records peer, procedure and code, one attribute object per (procedure, code)", () => {
    const { obs, client } = recordingObs();
    const observe = observeCalls(obs, "substation");
    for (const [path, code] of [
      ["startSession", "OK"],
      ["startSession", "OK"],
      ["startSession", "CONFLICT"],
      ["getLoad", "OK"],
    ] as const) {
      const call = observe(path);
      // No trace context to carry (tracing off, none came in): no headers.
      expect(call?.headers).toEqual({});
      call?.end(code, code === "OK" ? undefined : "refused");
    }
    expect(client).toEqual([
      { peer: "substation", rpc_method: "startSession", code: "OK" },
      { peer: "substation", rpc_method: "startSession", code: "OK" },
      { peer: "substation", rpc_method: "startSession", code: "CONFLICT" },
      { peer: "substation", rpc_method: "getLoad", code: "OK" },
    ]);
    expect(client[0]).toBe(client[1]);
  });

  test("a served call records procedure and code, one attribute object per (procedure, code)", () => {
    const { obs, server } = recordingObs();
    const carrier = { remote: true, get: () => undefined };
    for (const code of ["OK", "OK", "BAD_REQUEST"]) {
      const observer = procedureObserver(obs, "dispatch");
      const scope = observer.open(carrier);
      observer.close(
        scope,
        performance.now(),
        code === "OK" ? undefined : { code, message: "bad", reason: undefined },
      );
    }
    expect(server).toEqual([
      { rpc_method: "dispatch", code: "OK" },
      { rpc_method: "dispatch", code: "OK" },
      { rpc_method: "dispatch", code: "BAD_REQUEST" },
    ]);
    expect(server[0]).toBe(server[1]);
  });
});

/**
 * What a stranger sees: reason codes and the public view of the grid, never addresses, socket errors or
 * runtime hints; /metrics can be closed; every error is JSON. Real processes (`bun run dev`).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev } from "@evgrid/testing";
import { type Json, mutation, query, reasonOf } from "./http.ts";

setDefaultTimeout(60_000);

const METRICS_TOKEN = "metrics-token-0123456789";
/** Words that only internal failures produce. */
const INTERNALS =
  /ECONNREFUSED|Unable to connect|verbose|127\.0\.0\.1|localhost|stack|consecutiveFailures|lastError|"url"/;

let dev: Awaited<ReturnType<typeof startDev>>;
beforeAll(async () => {
  // --keep-going: a substation killed below leaves the rest running, as in production.
  dev = await startDev(["--random-ports", "--keep-going", "--capacities", "150,150"], {
    env: { METRICS_TOKEN },
  });
});
afterAll(() => dev?.[Symbol.asyncDispose]());

describe("what the public side reveals", () => {
  test("with a substation down, gridStatus and refusals carry ids and reason codes, nothing internal", async () => {
    const [pid] = await dev.pidsOf("apps/substation/");
    process.kill(pid as number, "SIGKILL");
    const api = dev.urls.chargeApi;
    // Until the balancer notices, a request may still be sent there: either way, no internal detail.
    const answers = [];
    for (let i = 0; i < 6; i++) {
      answers.push(await mutation(api, "requestCharge", { vehicleId: `ev-${i}`, minKw: 150, maxKw: 150 }));
      await Bun.sleep(150);
    }
    for (const a of answers) expect(JSON.stringify(a.json)).not.toMatch(INTERNALS);
    const status = await query(api, "gridStatus", undefined);
    expect(status.status).toBe(200);
    expect(JSON.stringify(status.json)).not.toMatch(INTERNALS);
    const down = status.json.result.data.substations.find((s: { healthy: boolean }) => !s.healthy);
    expect(Object.keys(down).sort()).toEqual(["healthy", "load", "substationId"]);
  });

  test("a public error never relays the internal call's failure text", async () => {
    const [balancer] = await dev.pidsOf("apps/balancer/");
    process.kill(balancer as number, "SIGKILL");
    const res = await mutation(dev.urls.chargeApi, "requestCharge", { vehicleId: "after" });
    expect(res.status).toBe(503);
    expect(reasonOf(res)).toBe("UPSTREAM_UNAVAILABLE");
    // Ours, and nothing else: an uncertain one names the key that settles it (charge-api's uncertain.ts).
    expect(res.json.error.message).toMatch(
      /^balancer (is unreachable|did not answer; it may have started: retry with idempotencyKey auto:[0-9a-f-]{36} to know)$/,
    );
  });

  test("METRICS_TOKEN closes /metrics (health checks stay open)", async () => {
    const url = dev.urls.chargeApi;
    const open = await fetch(`${url}/metrics`);
    expect(open.status).toBe(401);
    expect(((await open.json()) as Json).error.data.reason).toBe("UNAUTHORIZED");
    const scraped = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("rpc_server_duration_seconds");
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  test("a body that is not JSON is a typed JSON 415", async () => {
    const res = await fetch(`${dev.urls.chargeApi}/trpc/requestCharge`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"vehicleId":"ev"}',
    });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(((await res.json()) as Json).error.data).toMatchObject({
      code: "UNSUPPORTED_MEDIA_TYPE",
      reason: "UNSUPPORTED_MEDIA_TYPE",
    });
  });
});

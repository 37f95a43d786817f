/**
 * A session belongs to whoever started it: another caller can neither learn its id nor read or stop it.
 * Real processes (`bun run dev`); in open mode callers are told apart by address (one trusted proxy).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startDev } from "@evgrid/testing";
import { type As, mutation, query, reasonOf } from "./http.ts";

setDefaultTimeout(60_000);

describe("open mode (no API keys): the session secret is the proof of ownership", () => {
  let dev: Awaited<ReturnType<typeof startDev>>;
  let api: string;
  const victim: As = { address: "203.0.113.10" };
  const stranger: As = { address: "198.51.100.66" };
  beforeAll(async () => {
    dev = await startDev(["--random-ports", "--capacities", "150,150"], {
      env: { TRUST_PROXY: "127.0.0.1/32" },
    });
    api = dev.urls.chargeApi;
  });
  afterAll(() => dev?.[Symbol.asyncDispose]());

  test("a stranger who knows the vehicle id learns nothing, and can neither read nor stop its session", async () => {
    const started = await mutation(
      api,
      "requestCharge",
      { vehicleId: "victim-9", durationS: 600, idempotencyKey: "order-1" },
      victim,
    );
    expect(started.status).toBe(200);
    const { sessionId, sessionSecret } = started.json.result.data;
    expect(sessionSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const idHex = sessionId.split(".")[1];

    // The 409 says the vehicle is busy and nothing else.
    const busy = await mutation(api, "requestCharge", { vehicleId: "victim-9" }, stranger);
    expect(busy.status).toBe(409);
    expect(reasonOf(busy)).toBe("VEHICLE_ALREADY_CHARGING");
    expect(busy.json.error.data.details).toBeUndefined();
    expect(JSON.stringify(busy.json)).not.toContain(idHex);

    // Even with the id (leaked elsewhere), no secret, a wrong one, or another session's: 403, same answer.
    const other = (
      await mutation(api, "requestCharge", { vehicleId: "stranger-car", durationS: 600 }, stranger)
    ).json.result.data;
    for (const secret of [undefined, "x".repeat(43), other.sessionSecret]) {
      const ref = secret === undefined ? { sessionId } : { sessionId, sessionSecret: secret };
      const read = await query(api, "getSession", ref, stranger);
      const stop = await mutation(api, "stopCharge", ref, stranger);
      for (const a of [read, stop]) {
        expect(a.status).toBe(403);
        expect(reasonOf(a)).toBe("SESSION_FORBIDDEN");
        expect(JSON.stringify(a.json)).not.toContain("order-1");
      }
    }
    // A made-up id gets the very same answer: the 403 says nothing about whether a session exists.
    const madeUp = await query(api, "getSession", { sessionId: `substation-1.${"0".repeat(32)}` }, stranger);
    expect({ status: madeUp.status, reason: reasonOf(madeUp) }).toEqual({
      status: 403,
      reason: "SESSION_FORBIDDEN",
    });

    // The stranger's replay of the victim's key is a different key (scoped to the stranger): no secret.
    const stolenKey = await mutation(
      api,
      "requestCharge",
      { vehicleId: "victim-9", idempotencyKey: "order-1" },
      stranger,
    );
    expect(stolenKey.status).toBe(409);

    // The owner reads it, with its own key and no owner id, and a replay hands back the same secret.
    const mine = await query(api, "getSession", { sessionId, sessionSecret }, victim);
    expect(mine.status).toBe(200);
    expect(mine.json.result.data).toMatchObject({ status: "active", idempotencyKey: "order-1" });
    expect(mine.json.result.data.owner).toBeUndefined();
    const replay = await mutation(
      api,
      "requestCharge",
      { vehicleId: "victim-9", durationS: 600, idempotencyKey: "order-1" },
      victim,
    );
    expect(replay.json.result.data).toMatchObject({ sessionId, sessionSecret, replayed: true });

    const stopped = await mutation(api, "stopCharge", { sessionId, sessionSecret }, victim);
    expect(stopped.json.result.data).toMatchObject({ status: "ended", endReason: "stopped" });
  });

  test("idempotency keys are scoped to their caller: a squatter cannot block an honest client's key", async () => {
    const squat = await mutation(
      api,
      "requestCharge",
      { vehicleId: "squatter", idempotencyKey: "order-1001" },
      stranger,
    );
    expect(squat.status).toBe(200);
    const honest = await mutation(
      api,
      "requestCharge",
      { vehicleId: "honest", idempotencyKey: "order-1001" },
      victim,
    );
    expect(honest.status).toBe(200);
    expect(honest.json.result.data.replayed).toBe(false);
    expect(honest.json.result.data.sessionId).not.toBe(squat.json.result.data.sessionId);
  });

  test("operators (the service token) may read and stop any session", async () => {
    const s = (await mutation(api, "requestCharge", { vehicleId: "fleet-7", durationS: 600 }, victim)).json
      .result.data;
    const operator: As = { bearer: dev.urls.serviceToken };
    expect((await query(api, "getSession", { sessionId: s.sessionId }, operator)).status).toBe(200);
    const stopped = await mutation(api, "stopCharge", { sessionId: s.sessionId }, operator);
    expect(stopped.json.result.data).toMatchObject({ status: "ended", endReason: "stopped" });
  });
});

describe("with API keys: the key owns its sessions", () => {
  const KEY_A = "key-a-0123456789abcdef";
  const KEY_B = "key-b-0123456789abcdef";
  let dev: Awaited<ReturnType<typeof startDev>>;
  beforeAll(async () => {
    dev = await startDev(["--random-ports", "--capacities", "150"], {
      env: { API_KEYS: `${KEY_A},${KEY_B}` },
    });
  });
  afterAll(() => dev?.[Symbol.asyncDispose]());

  test("key B can neither read nor stop key A's session, and sees only what it would for no session", async () => {
    const api = dev.urls.chargeApi;
    const a = await mutation(
      api,
      "requestCharge",
      { vehicleId: "a-car", durationS: 600, idempotencyKey: "k-1" },
      { bearer: KEY_A },
    );
    expect(a.status).toBe(200);
    const { sessionId, sessionSecret } = a.json.result.data;
    expect(sessionSecret).toBeNull();

    const missing = await query(
      api,
      "getSession",
      { sessionId: `substation-1.${"0".repeat(32)}` },
      { bearer: KEY_B },
    );
    for (const attempt of [
      await query(api, "getSession", { sessionId }, { bearer: KEY_B }),
      await mutation(api, "stopCharge", { sessionId }, { bearer: KEY_B }),
    ]) {
      expect({ status: attempt.status, reason: reasonOf(attempt) }).toEqual({
        status: missing.status,
        reason: reasonOf(missing),
      });
      expect(attempt.status).toBe(404);
    }
    // Key B's own "k-1" is its own key: a new session, not A's.
    const b = await mutation(
      api,
      "requestCharge",
      { vehicleId: "b-car", durationS: 600, idempotencyKey: "k-1" },
      { bearer: KEY_B },
    );
    expect(b.json.result.data).toMatchObject({ replayed: false });

    const read = await query(api, "getSession", { sessionId }, { bearer: KEY_A });
    expect(read.json.result.data).toMatchObject({ status: "active", idempotencyKey: "k-1" });
    const stop = await mutation(api, "stopCharge", { sessionId }, { bearer: KEY_A });
    expect(stop.json.result.data).toMatchObject({ status: "ended", endReason: "stopped" });
  });
});

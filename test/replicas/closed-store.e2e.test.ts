/**
 * A closed store: a real redis-server that wants a password (`requirepass`), an ACL user limited to the
 * `evgrid:*` keys, or TLS with a self-signed certificate. The balancer (its own process) shares its state
 * there only with the right credentials, and never prints the password.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { type RunningSubstation, startSubstation } from "@evgrid/substation/app";
import { readEnv as substationEnv } from "@evgrid/substation/env";
import { eventually, metricValue, spawnApp, startRedis } from "@evgrid/testing";
import { RedisClient } from "bun";

setDefaultTimeout(60_000);

const PASSWORD = "p@ss:w/rd#0123456789"; // every character a URL would trip on
const OWNER = `key:${"ab".repeat(8)}`;
const token = randomBytes(24).toString("base64url");
let substation: RunningSubstation;

beforeAll(async () => {
  substation = await startSubstation(
    substationEnv({
      SUBSTATION_ID: "substation-1",
      SUBSTATION_CAPACITY_KW: "1000",
      PORT: "0",
      LOG_QUIET: "true",
      SERVICE_TOKEN: token,
      SUBSTATION_DB_PATH: ":memory:",
    }),
  );
});
afterAll(() => substation?.stop());

function balancer(env: Record<string, string>) {
  return spawnApp("balancer", { SERVICE_TOKEN: token, SUBSTATION_URLS: substation.url, ...env });
}

const storeUp = async (b: Awaited<ReturnType<typeof balancer>>) =>
  metricValue(await b.metrics(), "evgrid_balancer_state_store_up");

/** A dispatch for a caller: it claims its vehicle and counts its quota in the store. */
async function dispatchOne(b: Awaited<ReturnType<typeof balancer>>, vehicleId: string) {
  const res = await b.call("dispatch", { vehicleId, durationS: 600, owner: OWNER });
  expect(res.status).toBe(200);
}

/** Every key the balancers wrote, read as the store's administrator. */
async function keysIn(url: string, opts: { tls?: { ca: string } } = {}): Promise<string[]> {
  const admin = new RedisClient(url, { autoReconnect: false, ...opts });
  try {
    return ((await admin.send("KEYS", ["*"])) as string[]).sort();
  } finally {
    admin.close();
  }
}

describe("a store closed with a password", () => {
  test("requirepass: shared with the password, not without; the password is never printed", async () => {
    await using redis = await startRedis({ password: PASSWORD });
    await using stranger = await balancer({ REDIS_URL: redis.openUrl });
    await eventually(async () => expect(await storeUp(stranger)).toBe(0));

    await using inUrl = await balancer({ REDIS_URL: redis.url });
    await using inSecret = await balancer({ REDIS_URL: redis.openUrl, REDIS_PASSWORD: PASSWORD });
    for (const b of [inUrl, inSecret]) expect(await storeUp(b)).toBe(1);
    await dispatchOne(inUrl, "ev-pass-1");
    await dispatchOne(inSecret, "ev-pass-2");
    const keys = await keysIn(redis.url);
    expect(keys).toContain("evgrid:vehicle:ev-pass-1");
    expect(keys).toContain("evgrid:vehicle:ev-pass-2");
    expect(keys.filter((k) => k.startsWith("evgrid:quota:"))).not.toEqual([]);

    expect(inUrl.stdout()).toContain(`state shared with other balancer replicas in redis://:***@127.0.0.1`);
    for (const b of [stranger, inUrl, inSecret]) {
      const printed = b.stdout() + b.stderr();
      expect(printed).not.toContain(PASSWORD);
      expect(printed).not.toContain(encodeURIComponent(PASSWORD));
    }
  });

  test("an ACL user allowed only the evgrid:* keys is all a balancer needs", async () => {
    await using redis = await startRedis({
      password: randomBytes(16).toString("hex"),
      user: { name: "evgrid", password: PASSWORD },
    });
    await using b = await balancer({ REDIS_URL: redis.url });
    expect(await storeUp(b)).toBe(1);
    await dispatchOne(b, "ev-acl-1");
    await dispatchOne(b, "ev-acl-2");
    // Every command it sent was allowed: the store never went down for it (a refusal marks it down).
    expect(await storeUp(b)).toBe(1);
    expect(b.stdout() + b.stderr()).not.toContain("state store unreachable");
    expect(await keysIn(redis.url)).toContain("evgrid:vehicle:ev-acl-2");

    await using wrongUser = await balancer({ REDIS_URL: redis.openUrl.replace("//", "//evgrid:nope@") });
    await eventually(async () => expect(await storeUp(wrongUser)).toBe(0));
  });

  test("rediss:// with a private CA (REDIS_TLS_CA_FILE) and a password", async () => {
    await using redis = await startRedis({ password: PASSWORD, tls: true });
    await using untrusting = await balancer({ REDIS_URL: redis.url });
    await eventually(async () => expect(await storeUp(untrusting)).toBe(0));

    await using b = await balancer({ REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile as string });
    expect(await storeUp(b)).toBe(1);
    await dispatchOne(b, "ev-tls-1");
    const ca = await Bun.file(redis.caFile as string).text();
    expect(await keysIn(redis.url, { tls: { ca } })).toContain("evgrid:vehicle:ev-tls-1");
    expect(b.stdout()).toContain("rediss://:***@127.0.0.1");
    expect(b.stdout() + b.stderr()).not.toContain(PASSWORD);
  });
});

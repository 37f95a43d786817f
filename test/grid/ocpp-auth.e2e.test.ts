/**
 * Security Profile 1 under attack: guessing is locked out per id + address without locking the real charger
 * out, an unknown id costs what a wrong password does, a flood of guesses cannot keep a real charger out, and
 * a hostile id in the URL cannot forge a log line.
 */
import { expect, setDefaultTimeout, spyOn, test } from "bun:test";
import { request } from "node:http";
import { connect } from "node:net";
import {
  eventually,
  freePort,
  metricValue,
  spawnApp,
  spawnListening,
  startGrid,
  startOcppGateway,
} from "@evgrid/testing";
import { upgradeHeaders } from "./ocpp-raw.ts";

setDefaultTimeout(60_000);

const PASSWORD = "the-right-password-16";

/**
 * One WebSocket upgrade as a charger (or an attacker) sends it, from a chosen loopback address: the HTTP
 * status it got (101: connected; the socket is then closed at once).
 */
function upgrade(ocppUrl: string, id: string, password: string, from = "127.0.0.1"): Promise<number> {
  const url = new URL(`${ocppUrl.replace(/^ws:/, "http:")}/${encodeURIComponent(id)}`);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      localAddress: from,
      headers: upgradeHeaders(id, password),
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

async function setUp(env: Record<string, string>, ids: string[]) {
  const grid = await startGrid({ capacitiesKw: [40] });
  const ocpp = await startOcppGateway(grid, env);
  for (const chargePointId of ids) {
    await ocpp.admin.registerChargePoint.mutate({
      chargePointId,
      substationId: "substation-1",
      password: PASSWORD,
      maxKw: 11,
    });
  }
  const refused = async (reason: string) =>
    metricValue(
      await fetch(`${ocpp.gateway.url}/metrics`).then((r) => r.text()),
      "evgrid_ocpp_connections_refused_total",
      { reason },
    ) ?? 0;
  return {
    url: ocpp.gateway.ocppUrl,
    registry: ocpp.gateway.registry,
    refused,
    async [Symbol.asyncDispose]() {
      await ocpp[Symbol.asyncDispose]();
      await grid[Symbol.asyncDispose]();
    },
  };
}

/** The same with the gateway as its own process: a flood sent from this one does not share its event loop. */
async function setUpProcess(env: Record<string, string>, ids: string[]) {
  const grid = await startGrid({ capacitiesKw: [40] });
  const ocppPort = freePort();
  const gateway = await spawnApp("ocpp-gateway", {
    OCPP_PORT: String(ocppPort),
    BALANCER_URL: grid.balancer.url,
    SERVICE_TOKEN: grid.serviceToken,
    OCPP_DB_PATH: ":memory:",
    ...env,
  });
  for (const chargePointId of ids) {
    const res = await gateway.call("registerChargePoint", {
      chargePointId,
      substationId: "substation-1",
      password: PASSWORD,
      maxKw: 11,
    });
    expect(res.status).toBe(200);
  }
  return {
    url: `ws://127.0.0.1:${ocppPort}/ocpp`,
    refused: async (reason: string) =>
      metricValue(await gateway.metrics(), "evgrid_ocpp_connections_refused_total", { reason }) ?? 0,
    async [Symbol.asyncDispose]() {
      await gateway[Symbol.asyncDispose]();
      await grid[Symbol.asyncDispose]();
    },
  };
}

test("guessing is locked out per id + address and per address; the real charger is not locked out by it", async () => {
  await using s = await setUp(
    {
      OCPP_AUTH_PAIR_FAILURES: "3",
      OCPP_AUTH_ID_FAILURES: "3",
      OCPP_AUTH_ADDRESS_FAILURES: "6",
      // Long enough that a lockout outlasts the next attempt on a busy machine (an argon2 takes ~1 s there).
      OCPP_AUTH_LOCKOUT_MS: "3000",
      OCPP_AUTH_LOCKOUT_MAX_MS: "3000",
    },
    ["cp-victim", "cp-new"],
  );
  // The real charger has logged in from its own address before.
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.1")).toBe(101);
  // An attacker elsewhere guesses its password: three free failures, the fourth starts a lockout...
  for (let i = 0; i < 4; i++)
    expect(await upgrade(s.url, "cp-victim", `guess-${i}-xxxxxxxx`, "127.0.0.2")).toBe(401);
  // ...during which even the right password is refused from there, cheaply (no argon2) and counted.
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.2")).toBe(429);
  expect(await s.refused("locked")).toBeGreaterThanOrEqual(1);
  // The id is now locked for guessers, but not for the real charger, from its known address or a new one.
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.1")).toBe(101);
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.3")).toBe(101);
  // A lockout is short: the guesser's address gets a try again within OCPP_AUTH_LOCKOUT_MAX_MS.
  await eventually(async () => expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.2")).toBe(101), {
    timeoutMs: 15_000,
    intervalMs: 250,
  });

  // The real charger also logs in from behind a NAT that a guesser shares.
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.4")).toBe(101);
  // One address guessing many ids is locked out as a whole (OCPP_AUTH_ADDRESS_FAILURES)...
  for (let i = 0; i < 7; i++)
    expect(await upgrade(s.url, `cp-guess-${i}`, "wrong-password-xxxx", "127.0.0.4")).toBe(401);
  expect(await upgrade(s.url, "cp-new", PASSWORD, "127.0.0.4")).toBe(429);
  // ...except for the charger that logged in from it before.
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.4")).toBe(101);
  expect(await upgrade(s.url, "cp-victim", PASSWORD, "127.0.0.4")).toBe(101);
});

test("an unknown id costs one argon2 verification, as a wrong password does", async () => {
  await using s = await setUp(
    { OCPP_AUTH_PAIR_FAILURES: "1000", OCPP_AUTH_ADDRESS_FAILURES: "1000", OCPP_AUTH_ID_FAILURES: "1000" },
    ["cp-known"],
  );
  // Deterministic: the registry verifies an unknown id against a dummy argon2id hash.
  const verify = spyOn(Bun.password, "verify");
  try {
    expect(await s.registry.verifyPassword("cp-nobody", Buffer.from(PASSWORD))).toBe(false);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(String(verify.mock.calls[0]?.[1])).toStartWith("$argon2id$");
  } finally {
    verify.mockRestore();
  }
  // Behaviour over the wire: the medians of both kinds of failure are alike (a generous ratio, not a bound).
  const timed = async (id: string) => {
    const t0 = performance.now();
    expect(await upgrade(s.url, id, "wrong-password-xxxx")).toBe(401);
    return performance.now() - t0;
  };
  const unknown: number[] = [];
  const known: number[] = [];
  for (let i = 0; i < 25; i++) {
    unknown.push(await timed(`cp-nobody-${i}`));
    known.push(await timed("cp-known"));
  }
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const ratio = median(unknown) / median(known);
  console.log(
    `login timing: unknown id median ${median(unknown).toFixed(1)} ms, known id wrong password ${median(known).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`,
  );
  expect(ratio).toBeGreaterThan(0.33);
  expect(ratio).toBeLessThan(3);
});

test("a flood of wrong passwords from many addresses: refused at once when the queue is full, and real chargers get in", async () => {
  const ids = Array.from({ length: 20 }, (_, i) => `cp-flood-${i}`);
  await using s = await setUpProcess(
    {
      OCPP_AUTH_PAIR_FAILURES: "100000",
      OCPP_AUTH_ADDRESS_FAILURES: "100000",
      OCPP_AUTH_ID_FAILURES: "100000",
      OCPP_AUTH_VERIFY_CONCURRENCY: "2",
      OCPP_AUTH_VERIFY_QUEUE: "6",
      OCPP_AUTH_VERIFY_PER_ADDRESS: "3",
    },
    [...ids, "cp-known", "cp-first"],
  );
  expect(await upgrade(s.url, "cp-known", PASSWORD)).toBe(101);
  const statuses: Record<number, number> = {};
  const failedFrom = new Set<string>();
  let flooding = true;
  // 8 addresses, 5 upgrades in flight each, each a wrong password for a registered id.
  const flood = Array.from({ length: 40 }, async (_, n) => {
    const from = `127.0.1.${n % 8}`;
    for (let i = 0; flooding; i++) {
      const status = await upgrade(s.url, ids[(n + i) % ids.length] as string, `wrong-${i}-xxxxxxxxxx`, from);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 401) failedFrom.add(from);
    }
  });
  try {
    // The queue is full, and every address of the flood has failed a login.
    await eventually(
      async () => {
        expect(await s.refused("busy")).toBeGreaterThan(0);
        expect(failedFrom.size).toBe(8);
      },
      { timeoutMs: 30_000 },
    );
    // A known charger reconnecting skips argon2 and the queue.
    expect(await upgrade(s.url, "cp-known", PASSWORD)).toBe(101);
    // A charger's first login needs argon2: from an address that has not failed, it goes ahead of the
    // flood's and is not refused as busy. In at the first try.
    const t0 = performance.now();
    expect(await upgrade(s.url, "cp-first", PASSWORD)).toBe(101);
    console.log(
      `under flood: first login in ${(performance.now() - t0).toFixed(0)} ms (bound: OCPP_AUTH_VERIFY_WAIT_MS + one argon2); flood statuses ${JSON.stringify(statuses)}`,
    );
  } finally {
    flooding = false;
    await Promise.all(flood);
  }
  expect(statuses[101] ?? 0).toBe(0);
  expect(statuses[503] ?? 0).toBeGreaterThan(0);
});

test("a charge point id with a newline or NUL in the URL is logged as one line, escaped; a malformed one is refused (a real process)", async () => {
  await using grid = await startGrid({ capacitiesKw: [20] });
  const ocppPort = freePort();
  await using gateway = await spawnListening([process.execPath, "apps/ocpp-gateway/src/main.ts"], {
    HOST: "127.0.0.1",
    PORT: "0",
    OCPP_PORT: String(ocppPort),
    BALANCER_URL: grid.balancer.url,
    SERVICE_TOKEN: grid.serviceToken,
    OCPP_DB_PATH: ":memory:",
  });
  const url = `ws://127.0.0.1:${ocppPort}/ocpp`;
  expect(await upgrade(url, "cp-1\nwarn charge point accepted\u0000\u001b[2Jx", "whatever-password-x")).toBe(
    404,
  );
  await eventually(() => expect(gateway.stderr()).toContain("charge point refused"));
  const output = `${gateway.stdout()}${gateway.stderr()}`;
  // One JSON line, which reads back as the id that was sent: escaped, not cut into a forged second line.
  const accepted = output.split("\n").filter((line) => line.includes("charge point accepted"));
  expect(accepted.map((line) => JSON.parse(line))).toEqual([
    expect.objectContaining({
      level: "warn",
      service: "ocpp-gateway",
      msg: "charge point refused",
      chargePointId: "cp-1\nwarn charge point accepted\u0000\u001b[2Jx",
    }),
  ]);
  expect(output).not.toMatch(/[\p{Cc}--[\n]]/v);
  // A malformed %-escape in the id (ocpp-rpc decodes it unguarded) is refused; the gateway lives on.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(ocppPort, "127.0.0.1", () =>
      socket.write(
        "GET /ocpp/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n",
      ),
    );
    let text = "";
    socket.on("data", (d) => {
      text += d;
    });
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
  expect(answer).toStartWith("HTTP/1.1 404");
  expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
  expect(await upgrade(url, "cp-nobody", "whatever-password-x")).toBe(401);
});

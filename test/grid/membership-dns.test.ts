/**
 * Membership as deploy/k8s runs it: a substation names the balancers by one DNS name (a headless Service)
 * and joins every address it names, on every heartbeat, so balancer replicas added later are joined too.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { startBalancer } from "@evgrid/balancer/app";
import { readEnv as balancerEnv } from "@evgrid/balancer/env";
import { createLogger } from "@evgrid/kit";
import { joinBalancers } from "@evgrid/membership";
import { startSubstation } from "@evgrid/substation/app";
import { readEnv as substationEnv } from "@evgrid/substation/env";
import { eventually, metricValue } from "@evgrid/testing";

const serviceToken = randomBytes(24).toString("base64url");
// Replicas on one port at different loopback addresses, as pods behind a headless Service.
const balancerAt = (host: string, port: number) =>
  startBalancer(
    balancerEnv({
      HOST: host,
      PORT: String(port),
      SUBSTATION_URLS: "",
      LOG_QUIET: "true",
      SERVICE_TOKEN: serviceToken,
    }),
  );
const substationNamed = (id: string) =>
  startSubstation(
    substationEnv({
      SUBSTATION_ID: id,
      SUBSTATION_DB_PATH: ":memory:",
      PORT: "0",
      LOG_QUIET: "true",
      SERVICE_TOKEN: serviceToken,
    }),
  );

/** Register calls a balancer has served (its RED metric). */
async function registers(balancerUrl: string): Promise<number> {
  const res = await fetch(`${balancerUrl}/metrics`, { headers: { authorization: `Bearer ${serviceToken}` } });
  const text = await res.text();
  return metricValue(text, "rpc_server_duration_seconds_count", { rpc_method: "register" }) ?? 0;
}

describe("joining balancers found by DNS", () => {
  test("a substation joins every replica a name resolves to, and a replica added later", async () => {
    const first = await balancerAt("127.0.0.1", 0);
    const replicas = [first, await balancerAt("127.0.0.2", first.port)];
    const substation = await substationNamed("substation-0");
    // What the cluster's DNS answers for balancer-members right now.
    let named = ["127.0.0.1", "127.0.0.2"];
    const membership = joinBalancers({
      balancerUrls: [`http://balancer-members.test:${first.port}`],
      discovery: "dns",
      lookup: async (host) => {
        expect(host).toBe("balancer-members.test");
        return named.map((address) => ({ address, family: 4 }));
      },
      advertiseUrl: substation.url,
      token: serviceToken,
      intervalMs: 100,
      log: createLogger({ quiet: true }),
    });
    const joined = (b: (typeof replicas)[number]) => b.view.status().map((s) => s.substationId);
    try {
      await eventually(() => expect(replicas.map(joined)).toEqual([["substation-0"], ["substation-0"]]));
      // Scaled up: the name now resolves to a third replica, which is joined with no other change.
      replicas.push(await balancerAt("127.0.0.3", first.port));
      named = [...named, "127.0.0.3"];
      await eventually(() =>
        expect(joined(replicas[2] as (typeof replicas)[number])).toEqual(["substation-0"]),
      );
      // A graceful stop leaves every replica it joined.
      await membership.stop(true);
      expect(replicas.map(joined)).toEqual([[], [], []]);
    } finally {
      await membership.stop(false);
      await substation.stop();
      await Promise.all(replicas.map((b) => b.stop()));
    }
  });

  test("a graceful stop while a heartbeat still looks the balancers up: that heartbeat does not join them again", async () => {
    const balancer = await balancerAt("127.0.0.1", 0);
    const substation = await substationNamed("substation-1");
    let lookups = 0;
    let answerLookup = () => {};
    const membership = joinBalancers({
      balancerUrls: [`http://balancer-members.test:${balancer.port}`],
      discovery: "dns",
      // The first heartbeat's lookup is held until the stop has begun.
      lookup: () => {
        lookups += 1;
        const found = [{ address: "127.0.0.1", family: 4 }];
        return new Promise((resolve) => (answerLookup = () => resolve(found)));
      },
      advertiseUrl: substation.url,
      token: serviceToken,
      intervalMs: 60_000,
      log: createLogger({ quiet: true }),
    });
    try {
      await eventually(() => expect(lookups).toBe(1));
      const stopping = membership.stop(true);
      answerLookup();
      await stopping;
      // Once the balancer has had that heartbeat's register (before the goodbye, or, the bug, after it):
      await eventually(async () => expect(await registers(balancer.url)).toBe(1));
      expect(balancer.view.status()).toEqual([]);
    } finally {
      await membership.stop(false);
      await substation.stop();
      await balancer.stop();
    }
  });

  test("a graceful stop while the lookup hangs still returns (after the goodbye's 2 s), so the shutdown goes on", async () => {
    const balancer = await balancerAt("127.0.0.1", 0);
    const membership = joinBalancers({
      balancerUrls: [`http://balancer-members.test:${balancer.port}`],
      discovery: "dns",
      lookup: () => new Promise(() => {}), // a resolver that never answers
      advertiseUrl: "http://127.0.0.1:1",
      token: serviceToken,
      intervalMs: 60_000,
      log: createLogger({ quiet: true }),
    });
    try {
      await membership.stop(true);
      expect(balancer.view.status()).toEqual([]);
    } finally {
      await balancer.stop();
    }
  }, 15_000);
});

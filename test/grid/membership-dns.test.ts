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
import { eventually } from "@evgrid/testing";

describe("joining balancers found by DNS", () => {
  test("a substation joins every replica a name resolves to, and a replica added later", async () => {
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
    const first = await balancerAt("127.0.0.1", 0);
    const replicas = [first, await balancerAt("127.0.0.2", first.port)];
    const substation = await startSubstation(
      substationEnv({
        SUBSTATION_ID: "substation-0",
        SUBSTATION_DB_PATH: ":memory:",
        PORT: "0",
        LOG_QUIET: "true",
        SERVICE_TOKEN: serviceToken,
      }),
    );
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
});

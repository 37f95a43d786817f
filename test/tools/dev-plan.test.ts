/** `bun run dev`'s plan of ports: every app its own, however many substations the README's commands ask. */
import { expect, test } from "bun:test";
import { devOptionsSchema, planSubstations } from "../../tools/dev/src/plan.ts";

test("128 substations on the default ports: each its own port, none of the other apps' (8080, 8081, 8180, 8181)", () => {
  const opts = devOptionsSchema.parse({ substations: "128" });
  const ports = planSubstations(opts).map((s) => s.port);
  const others = [8080, 8081, 8180, 8181];
  expect(new Set([...ports, ...others]).size).toBe(ports.length + others.length);
  // The first ones keep the documented 8100 + i.
  expect(ports.slice(0, 3)).toEqual([8101, 8102, 8103]);
  // Replicas of the balancer (8081, 8082, ...) are passed over too.
  const replicas = devOptionsSchema.parse({
    substations: "4",
    balancers: "2",
    redis: true,
    "balancer-port": "8102",
  });
  expect(planSubstations(replicas).map((s) => s.port)).toEqual([8101, 8104, 8105, 8106]);
});

test("a base that would run the substations past port 65535 is refused, naming the flag", () => {
  const result = devOptionsSchema.safeParse({ substations: "128", "substation-base-port": "65500" });
  expect(result.success).toBe(false);
  expect(result.error?.issues[0]).toMatchObject({
    path: ["substation-base-port"],
    message: expect.stringContaining("65535"),
  });
  expect(
    devOptionsSchema.safeParse({ substations: "128", "substation-base-port": "65500", "random-ports": true })
      .success,
  ).toBe(true);
});

import { randomBytes } from "node:crypto";
import type { InternalClient } from "@evgrid/kit/client";
import type { GatewayRouter } from "@evgrid/ocpp-gateway";

export interface DemoCharger {
  chargePointId: string;
  password: string;
  substationId: string;
}

/**
 * `bun run dev --chargers k`: k charge points per substation, `cp-<substation>-<n>`, 11 kW, each with a new
 * random password (registering again replaces the old one), so they can be connected at once.
 */
export async function registerDemoChargers(
  gateway: InternalClient<GatewayRouter>,
  substations: { id: string }[],
  perSubstation: number,
): Promise<DemoCharger[]> {
  const out: DemoCharger[] = [];
  for (const s of substations) {
    for (let n = 1; n <= perSubstation; n++) {
      const c = {
        chargePointId: `cp-${s.id}-${n}`,
        password: randomBytes(15).toString("base64url"),
        substationId: s.id,
      };
      await gateway.registerChargePoint.mutate({ ...c, maxKw: 11 });
      out.push(c);
    }
  }
  return out;
}

export function demoLines(demo: DemoCharger[], ocppUrl: string): string[] {
  if (demo.length === 0) return [];
  const width = Math.max(...demo.map((d) => d.chargePointId.length)) + 2;
  const [first] = demo as [DemoCharger];
  const url = ocppUrl === "ws://127.0.0.1:8180/ocpp" ? "" : ` --url ${ocppUrl}`;
  return [
    "",
    `  demo charge points (connect to ${ocppUrl}/<id>, Basic auth <id>:<password>):`,
    ...demo.map((d) => `    ${d.chargePointId.padEnd(width)}${d.password}   at ${d.substationId}`),
    `  try: bun run charger${url} --id ${first.chargePointId} --password ${first.password} --id-tag card-42`,
    "       (a walk-in; the idTag requestCharge answers a booking's owner claims that booking instead)",
  ];
}

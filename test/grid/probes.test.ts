/**
 * /livez and /readyz, on real apps: live whenever the process serves; ready only when the app can do its
 * job, else 503 with the reason (what Kubernetes' probes and an operator see).
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { startBalancer } from "@evgrid/balancer/app";
import { readEnv as balancerEnv } from "@evgrid/balancer/env";
import { startChargeApi } from "@evgrid/charge-api/app";
import { readEnv as chargeApiEnv } from "@evgrid/charge-api/env";
import { dispatchRequestSchema } from "@evgrid/contract";
import { startSubstation } from "@evgrid/substation/app";
import { readEnv as substationEnv } from "@evgrid/substation/env";
import { eventually, startGrid, startOcppGateway, tempDir } from "@evgrid/testing";

const probe = async (url: string, path: "/livez" | "/readyz") => {
  const res = await fetch(`${url}${path}`);
  const body = (await res.json()) as { reason?: string };
  return { status: res.status, reason: body.reason ?? null };
};
const READY = { status: 200, reason: null };
const token = () => randomBytes(24).toString("base64url");

/** A balancer that lists no substation: they join it themselves. */
const lonelyBalancer = (serviceToken: string) =>
  startBalancer(
    balancerEnv({ PORT: "0", SUBSTATION_URLS: "", LOG_QUIET: "true", SERVICE_TOKEN: serviceToken }),
  );

describe("/livez and /readyz", () => {
  test("a balancer with no substation is live, not ready; one joining by DNS (as in Kubernetes) makes it ready", async () => {
    const serviceToken = token();
    const balancer = await lonelyBalancer(serviceToken);
    try {
      expect(await probe(balancer.url, "/livez")).toEqual(READY);
      expect(await probe(balancer.url, "/readyz")).toEqual({
        status: 503,
        reason: "no substation listed or joined",
      });
      // The join settings of deploy/k8s: a name looked up for every balancer address, the balancer knowing none.
      const substation = await startSubstation(
        substationEnv({
          SUBSTATION_ID: "substation-0",
          SUBSTATION_DB_PATH: ":memory:",
          PORT: "0",
          LOG_QUIET: "true",
          SERVICE_TOKEN: serviceToken,
          BALANCER_URLS: balancer.url.replace("127.0.0.1", "localhost"),
          BALANCER_DISCOVERY: "dns",
          HEARTBEAT_MS: "200",
        }),
      );
      try {
        await eventually(async () => expect(await probe(balancer.url, "/readyz")).toEqual(READY));
        expect(balancer.view.status().map((s) => s.substationId)).toEqual(["substation-0"]);
      } finally {
        await substation.stop();
      }
      // It left gracefully: the balancer is not ready any more.
      await eventually(async () => expect((await probe(balancer.url, "/readyz")).status).toBe(503));
    } finally {
      await balancer.stop();
    }
  });

  test("a charge-api whose balancer is down is live, not ready", async () => {
    const serviceToken = token();
    const balancer = await lonelyBalancer(serviceToken);
    const api = await startChargeApi(
      chargeApiEnv({ PORT: "0", BALANCER_URL: balancer.url, LOG_QUIET: "true", SERVICE_TOKEN: serviceToken }),
    );
    try {
      expect(await probe(api.url, "/readyz")).toEqual(READY);
      await balancer.stop();
      await eventually(async () =>
        expect(await probe(api.url, "/readyz")).toEqual({
          status: 503,
          reason: "no balancer answers (1 listed)",
        }),
      );
      expect(await probe(api.url, "/livez")).toEqual(READY);
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test("a substation whose journal cannot be written is live, not ready", async () => {
    using dir = tempDir("probes-");
    const substation = await startSubstation(
      substationEnv({
        SUBSTATION_ID: "substation-1",
        SUBSTATION_CAPACITY_KW: "1000000",
        SUBSTATION_DB_PATH: `${dir.path}/journal.sqlite`,
        SUBSTATION_JOURNAL_MAX_MB: "0.2",
        PORT: "0",
        LOG_QUIET: "true",
        SERVICE_TOKEN: token(),
      }),
    );
    try {
      expect(await probe(substation.url, "/readyz")).toEqual(READY);
      // Fill the journal to its cap: the admission it cannot write is refused, and readiness says why.
      let refused: unknown;
      for (let i = 0; refused === undefined && i < 100_000; i++)
        await substation.station
          .start(dispatchRequestSchema.parse({ vehicleId: `ev-${i}`, durationS: 3600 }))
          .catch((err) => {
            refused = err;
          });
      expect(refused).toMatchObject({ reason: "JOURNAL_UNAVAILABLE" });
      expect(await probe(substation.url, "/readyz")).toEqual({
        status: 503,
        reason: "journal writes failing: start",
      });
      expect(await probe(substation.url, "/livez")).toEqual(READY);
    } finally {
      await substation.stop();
    }
  });

  test("a gateway whose registry is closed is live, not ready", async () => {
    await using grid = await startGrid({ capacitiesKw: [150] });
    await using ocpp = await startOcppGateway(grid);
    const { gateway } = ocpp;
    expect(await probe(gateway.url, "/readyz")).toEqual(READY);
    gateway.registry.close();
    expect(await probe(gateway.url, "/readyz")).toEqual({
      status: 503,
      reason: "the charge point registry is not open",
    });
    expect(await probe(gateway.url, "/livez")).toEqual(READY);
  });
});

/**
 * X-Forwarded-For cannot buy fresh quotas: TRUST_PROXY names the proxies trusted (CIDRs), a caller that is
 * not one of them is keyed by its own address whatever it writes, and the old form (a count, which trusted
 * anyone's header) is refused at start with the new one shown.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { runCommand, startGrid } from "@evgrid/testing";
import { query } from "./http.ts";

setDefaultTimeout(30_000);

const BURST = 10;

describe("TRUST_PROXY", () => {
  test.each(["1", "true"])(
    "the old form %s is refused at start, exit 2, naming the CIDR form",
    async (old) => {
      const { code, stderr } = await runCommand([process.execPath, "apps/charge-api/src/main.ts"], {
        SERVICE_TOKEN: "forwarded-for-test-token-0123456789",
        HOST: "127.0.0.1",
        PORT: "0",
        TRUST_PROXY: old,
      });
      expect(code).toBe(2);
      expect(stderr).toContain("TRUST_PROXY");
      expect(stderr).toContain("10.0.0.0/8,127.0.0.1/32");
    },
  );

  test("a caller that is not a trusted proxy gets one quota, whatever X-Forwarded-For it writes", async () => {
    await using grid = await startGrid({
      capacitiesKw: [150],
      defaultQuotas: true,
      // The proxies are in 10/8; this test calls from 127.0.0.1, as a client reaching a NodePort would.
      chargeApi: { TRUST_PROXY: "10.0.0.0/8", QUOTA_RPS: "1", QUOTA_BURST: String(BURST) },
    });
    const startedMs = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        query(grid.api.url, "gridStatus", undefined, { address: `198.51.${i >> 8}.${i & 255}` }),
      ),
    );
    // The burst, plus one token a second refilled while the 60 were answered (however slow the machine).
    const refilled = Math.ceil((performance.now() - startedMs) / 1000) + 1;
    const served = answers.filter((a) => a.status === 200).length;
    expect(served).toBeGreaterThanOrEqual(1);
    expect(served).toBeLessThanOrEqual(BURST + refilled);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(60 - BURST - refilled);
  });
});

/**
 * One process hosting several substations (SUBSTATION_SITES), as `bun run dev --substations 128` runs them:
 * each its own id, port, journal and getLoad, and they stop together.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { listeningUrl } from "@evgrid/kit/listening";
import { closeLink, internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { eventually, repoRoot, spawnListening, startDev, tempDir } from "@evgrid/testing";

setDefaultTimeout(60_000);
const MAIN = resolve(repoRoot, "apps/substation/src/main.ts");
const TOKEN = "hosting-token-0123456789abcdefghij";

describe("several substations in one process", () => {
  test("each site has its own id, port, journal and load; SIGTERM stops them all", async () => {
    await using dir = tempDir("evgrid-sites-");
    await using host = await spawnListening([process.execPath, MAIN], {
      SUBSTATION_SITES: "site-a=100,site-b=50,site-c=10",
      SUBSTATION_DATA_DIR: dir.path,
      PORT: "0",
      SERVICE_TOKEN: TOKEN,
      OTEL_SDK_DISABLED: "true",
    });
    await eventually(() => expect(listenings(host.stdout())).toHaveLength(3));
    const urls = listenings(host.stdout());
    expect(new Set(urls).size).toBe(3);
    const loads = await Promise.all(
      urls.map(async (url) => {
        const client = internalClient<SubstationRouter>(url, { timeoutMs: 2000, token: TOKEN });
        try {
          return await client.getLoad.query();
        } finally {
          client[closeLink]();
        }
      }),
    );
    expect(loads.map((l) => [l.substationId, l.capacityKw])).toEqual([
      ["site-a", 100],
      ["site-b", 50],
      ["site-c", 10],
    ]);
    for (const id of ["site-a", "site-b", "site-c"])
      expect(existsSync(join(dir.path, `${id}.sqlite`))).toBe(true);
    expect(await host.stop()).toBe(0);
  });

  test("a malformed SUBSTATION_SITES is refused at start, naming the variable and the site", async () => {
    const proc = Bun.spawn([process.execPath, MAIN], {
      env: { ...process.env, SUBSTATION_SITES: "site-a=100,site-b", PORT: "0", SERVICE_TOKEN: TOKEN },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(2);
    expect(stderr).toContain("SUBSTATION_SITES.1.capacityKw: each site is <id>=<capacity kW>");
  });

  test("bun run dev --substations 12 --substations-per-process 5: three processes, twelve substations in rotation", async () => {
    await using dev = await startDev([
      "--random-ports",
      "--substations",
      "12",
      "--substations-per-process",
      "5",
    ]);
    expect(Object.keys(dev.urls.substations)).toHaveLength(12);
    expect(await dev.pidsOf("apps/substation/")).toHaveLength(3);
    const operator = internalClient<import("@evgrid/balancer").BalancerRouter>(dev.urls.balancer, {
      timeoutMs: 5000,
      token: dev.urls.serviceToken,
    });
    try {
      await eventually(async () => {
        const status = await operator.listSubstations.query();
        expect(
          status
            .filter((s) => s.healthy)
            .map((s) => s.substationId)
            .sort(),
        ).toEqual(Array.from({ length: 12 }, (_, i) => `substation-${i + 1}`).sort());
      });
    } finally {
      operator[closeLink]();
    }
    expect((await dev.terminate()).code).toBe(0);
  });
});

const listenings = (out: string) =>
  out
    .split("\n")
    .map(listeningUrl)
    .filter((u): u is string => u !== undefined);

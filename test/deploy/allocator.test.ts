/**
 * Every place the project starts an app keeps mimalloc's freed pages (MIMALLOC_PURGE_DELAY=-1): the image,
 * every compose service that runs one, every app container of every Kubernetes overlay, and each app that
 * `bun run dev` spawns. Purging them cost ~40 % of each app's CPU (BENCHMARKS.md), so a place that forgets it
 * is slower by that much without anyone noticing.
 */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { repoRoot, startDev } from "@evgrid/testing";
import { builds, containersOf, envOf, workloadsOf } from "./manifests.ts";

const SETTING = "-1";
const runsAnApp = (cmd: unknown) =>
  Array.isArray(cmd) && cmd.some((a) => /^apps\/[^/]+\/src\/main\.ts$/.test(a));

describe("the allocator setting", () => {
  test("the image sets it for every container", async () => {
    const dockerfile = await Bun.file(resolve(repoRoot, "apps/Dockerfile")).text();
    // The ENV instruction, continuation lines joined.
    const envs = [...dockerfile.replace(/\\\n/g, " ").matchAll(/^ENV (.*)$/gm)].map((m) => m[1] ?? "");
    expect(envs.join(" ")).toMatch(new RegExp(`(^|\\s)MIMALLOC_PURGE_DELAY=${SETTING}(\\s|$)`));
  });

  test("every compose service that runs an app sets it", async () => {
    const compose = Bun.YAML.parse(await Bun.file(resolve(repoRoot, "compose.yaml")).text()) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
    };
    const apps = Object.entries(compose.services).filter(([, s]) => runsAnApp(s.command));
    expect(apps.length).toBeGreaterThan(3);
    for (const [name, s] of apps)
      expect([name, s.environment?.MIMALLOC_PURGE_DELAY]).toEqual([name, SETTING]);
  });

  test.each(builds.map((b) => [b.overlay, b] as const))(
    "every app container of the %s overlay sets it",
    (_, b) => {
      const apps = workloadsOf(b).flatMap((w) =>
        w.spec.template.spec.containers
          .filter((c: { image: string }) => c.image.startsWith("evgrid-app"))
          .map((c: unknown) => [w, c] as const),
      );
      expect(apps.length).toBeGreaterThan(3);
      for (const [w, c] of apps) {
        expect(containersOf(w)).toContain(c);
        expect([w.metadata.name, envOf(w, c).MIMALLOC_PURGE_DELAY]).toEqual([w.metadata.name, SETTING]);
      }
    },
  );

  test("each app `bun run dev` starts runs with it, unless the developer's shell says otherwise", async () => {
    const environOf = async (pid: number) =>
      Object.fromEntries(
        (await Bun.file(`/proc/${pid}/environ`).text())
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
    for (const [given, expected] of [
      // What this test's own shell says wins, as it would for a developer.
      [undefined, process.env.MIMALLOC_PURGE_DELAY ?? SETTING],
      ["100", "100"],
    ] as const) {
      await using dev = await startDev(["--random-ports", "--substations", "1"], {
        env: { ...(given ? { MIMALLOC_PURGE_DELAY: given } : {}) },
        timeoutMs: 120_000,
      });
      const pids = await dev.pidsOf("apps/");
      expect(pids.length).toBeGreaterThanOrEqual(4);
      for (const pid of pids) expect((await environOf(pid)).MIMALLOC_PURGE_DELAY).toBe(expected);
      await dev.terminate();
    }
  }, 300_000);
});

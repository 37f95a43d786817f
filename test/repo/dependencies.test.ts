/** The workspace's layering, as package.json files declare it: no cycles, and leaves that stay leaves. */
import { describe, expect, test } from "bun:test";
import { repoRoot } from "@evgrid/testing";
import { Glob } from "bun";

async function workspace(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const path of new Glob("{apps,packages}/*/package.json").scan(repoRoot)) {
    const pkg = (await Bun.file(`${repoRoot}/${path}`).json()) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) =>
      d.startsWith("@evgrid/"),
    );
    graph.set(pkg.name, deps);
  }
  return graph;
}

describe("workspace dependencies", () => {
  test("have no cycle, dev dependencies included", async () => {
    const graph = await workspace();
    const cycles: string[] = [];
    const visit = (name: string, path: string[]) => {
      for (const dep of graph.get(name) ?? []) {
        if (path.includes(dep)) cycles.push([...path.slice(path.indexOf(dep)), dep].join(" -> "));
        else visit(dep, [...path, dep]);
      }
    };
    for (const name of graph.keys()) visit(name, [name]);
    expect(cycles).toEqual([]);
  });

  test("the contract, the policy and telemetry depend on nothing of ours; no app depends on the test harness", async () => {
    const graph = await workspace();
    for (const leaf of ["@evgrid/contract", "@evgrid/policy", "@evgrid/telemetry"])
      expect(graph.get(leaf)).toEqual([]);
    for (const app of ["@evgrid/substation", "@evgrid/balancer", "@evgrid/charge-api"]) {
      expect(graph.get(app)).not.toContain("@evgrid/testing");
    }
  });
});

describe("the container image", () => {
  test("copies every workspace's manifest before installing, so the dependency layer survives source changes", async () => {
    const dockerfile = await Bun.file(`${repoRoot}/apps/Dockerfile`).text();
    const install = dockerfile.indexOf("RUN bun install");
    const manifests = [...dockerfile.slice(0, install).matchAll(/^COPY (\S+\/package\.json) /gm)].map(
      (m) => m[1],
    );
    const workspaces: string[] = [];
    for await (const path of new Glob("{apps,packages}/*/package.json").scan(repoRoot)) workspaces.push(path);
    expect(manifests.sort()).toEqual(workspaces.sort());
    // Source only after the install.
    expect(dockerfile.indexOf("COPY packages/ packages/")).toBeGreaterThan(install);
  });
});

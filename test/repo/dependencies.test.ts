/** The workspace's layering, as package.json files declare it: no cycles, and leaves that stay leaves. */
import { describe, expect, test } from "bun:test";
import { repoRoot } from "@evgrid/testing";
import { Glob } from "bun";

async function workspace(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for await (const path of new Glob("{apps,packages,tools}/*/package.json").scan(repoRoot)) {
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

/** Every app of the workspace, by package name: what `packages/` may never reach for. */
async function appNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const path of new Glob("apps/*/package.json").scan(repoRoot))
    names.push(((await Bun.file(`${repoRoot}/${path}`).json()) as { name: string }).name);
  return names;
}

// Module specifiers: `from "x"`, `import("x")`, `require("x")`, `import "x"`.
const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'`]([^"'`]+)["'`]/gm;

describe("packages are the ground floor", () => {
  test("no file under packages/ imports an app, by package name or by path, nor spawns one", async () => {
    const apps = await appNames();
    expect(apps).toContain("@evgrid/charge-api");
    const offences: string[] = [];
    for await (const path of new Glob("packages/**/*.{ts,tsx,js,mjs}").scan(repoRoot)) {
      if (path.includes("node_modules")) continue;
      const text = await Bun.file(`${repoRoot}/${path}`).text();
      for (const [, spec = ""] of text.matchAll(specifier)) {
        const app = apps.find((name) => spec === name || spec.startsWith(`${name}/`));
        if (app || /(^|\/)apps\//.test(spec)) offences.push(`${path} imports ${spec}`);
      }
      // A path into apps/ handed to a process (Bun.spawn([..., "apps/x/src/main.ts"])) is an arrow up too.
      for (const [literal] of text.matchAll(/["'`](?:\.\.\/)*apps\/[^"'`]*["'`]/g))
        offences.push(`${path} names ${literal}`);
    }
    expect(offences).toEqual([]);
  });

  test("no package under packages/ depends on an app or on a tool", async () => {
    const graph = await workspace();
    const apps = await appNames();
    const tools = ["@evgrid/testing", "@evgrid/dev"];
    const offences: string[] = [];
    for await (const path of new Glob("packages/*/package.json").scan(repoRoot)) {
      const { name } = (await Bun.file(`${repoRoot}/${path}`).json()) as { name: string };
      for (const dep of graph.get(name) ?? [])
        if (apps.includes(dep) || tools.includes(dep)) offences.push(`${name} -> ${dep}`);
    }
    expect(offences).toEqual([]);
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
    for await (const path of new Glob("{apps,packages,tools}/*/package.json").scan(repoRoot))
      workspaces.push(path);
    expect(manifests.sort()).toEqual(workspaces.sort());
    // Source only after the install.
    expect(dockerfile.indexOf("COPY packages/ packages/")).toBeGreaterThan(install);
  });
});

/**
 * What a visitor of the dashboards notices: every panel follows the data source chosen at the top, energy
 * reads in kWh, and trace links open a dashboard (which anonymous Viewers may see) rather than Explore
 * (which they may not).
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { dashboardFiles, readYaml, repoRoot } from "@evgrid/testing";

// biome-ignore lint/suspicious/noExplicitAny: dashboards are checked structurally, field by field.
type Json = any;

const dir = resolve(repoRoot, "grafana/dashboards");
const dashboards: Json[] = await Promise.all(dashboardFiles.map((f) => Bun.file(resolve(dir, f)).json()));
const datasources: Json = await readYaml("grafana/provisioning/datasources/datasources.yaml");
const provisioned = new Map<string, string>(datasources.datasources.map((d: Json) => [d.uid, d.type]));

function* panelsOf(panels: Json[]): Generator<Json> {
  for (const p of panels) {
    yield p;
    yield* panelsOf(p.panels ?? []);
  }
}

test("every dashboard file is provisioned and checked", () => {
  expect(readdirSync(dir).toSorted()).toEqual([...dashboardFiles].toSorted());
});

test("every panel and query reads its data source through a data source variable of its dashboard", () => {
  const wrong: string[] = [];
  for (const dash of dashboards) {
    const variables = new Map<string, Json>(
      dash.templating.list
        .filter((v: Json) => v.type === "datasource")
        .map((v: Json) => [`\${${v.name}}`, v]),
    );
    for (const v of variables.values()) {
      // Its default is a provisioned data source of the type it offers.
      if (provisioned.get(v.current.value) !== v.query) wrong.push(`${dash.uid} variable ${v.name}`);
    }
    const refs = [
      ...dash.templating.list
        .filter((v: Json) => v.type === "query")
        .map((v: Json) => [`variable ${v.name}`, v.datasource]),
      ...[...panelsOf(dash.panels)]
        .filter((p) => p.type !== "row")
        .flatMap((p) => [
          [p.title, p.datasource],
          ...(p.targets ?? []).map((t: Json) => [`${p.title} ${t.refId}`, t.datasource]),
        ]),
    ];
    for (const [where, ds] of refs) {
      const variable = variables.get(ds?.uid);
      if (!variable || variable.query !== ds.type)
        wrong.push(`${dash.uid} / ${where}: ${JSON.stringify(ds)}`);
    }
  }
  expect(wrong).toEqual([]);
});

test("energy is shown in kWh, never joules", () => {
  const units = dashboards.flatMap((d) =>
    [...panelsOf(d.panels)].map((p) => ({
      panel: p.title,
      unit: p.fieldConfig?.defaults?.unit,
      exprs: (p.targets ?? []).map((t: Json) => t.expr ?? ""),
    })),
  );
  expect(units.filter((u) => /joule/i.test(u.unit ?? ""))).toEqual([]);
  const energy = units.filter((u) => u.panel === "Energy delivered");
  expect(energy).toEqual([
    expect.objectContaining({ unit: "kwatth", exprs: [expect.stringMatching(/\/ 3600000$/)] }),
  ]);
});

test("trace links open the Trace dashboard with the trace and its logs, never Explore", async () => {
  const texts = [
    ...(await Promise.all(dashboardFiles.map((f) => Bun.file(resolve(dir, f)).text()))),
    await Bun.file(resolve(repoRoot, "grafana/provisioning/datasources/datasources.yaml")).text(),
  ];
  for (const t of texts) expect(t).not.toContain("/explore");
  const links = texts.flatMap((t) =>
    [...t.matchAll(/\/d\/([\w-]+)\/[\w-]+\?var-(\w+)=/g)].map((m) => [m[1], m[2]]),
  );
  // Exemplars, Loki's trace ids and the Tempo table all lead there.
  expect(links.length).toBeGreaterThanOrEqual(4);
  const trace = dashboards.find((d) => d.uid === "evgrid-trace");
  for (const [uid, variable] of links) {
    expect(uid).toBe("evgrid-trace");
    expect(trace.templating.list.map((v: Json) => v.name)).toContain(variable);
  }
  const traceId = "$" + "{traceId}";
  const types = trace.panels.map((p: Json) => [p.type, p.targets[0].query ?? p.targets[0].expr]);
  expect(types).toContainEqual(["traces", traceId]);
  expect(types).toContainEqual(["logs", expect.stringContaining(`trace_id = "${traceId}"`)]);
});

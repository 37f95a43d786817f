import { resolve } from "node:path";
import { repoRoot } from "./processes.ts";

/** Reads a YAML file of the repository. */
export async function readYaml<T = Record<string, unknown>>(path: string): Promise<T> {
  return Bun.YAML.parse(await Bun.file(resolve(repoRoot, path)).text()) as T;
}

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  /** The data source the query runs against: a `${variable}` resolved to the variable's default. */
  datasourceUid: string;
  /** As written in the panel (`${datasource}`, or a hard-coded uid). */
  datasourceRef: string;
  expr: string;
}

interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; query?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

export const dashboardFiles = ["grid-overview.json", "dispatch.json", "services-red.json", "trace.json"];

export interface DashboardVariable {
  name: string;
  type: string;
  query?: unknown;
  current?: { value?: string };
}

/** Every query of every panel of every provisioned dashboard. */
export async function dashboardQueries(): Promise<DashboardQuery[]> {
  const out: DashboardQuery[] = [];
  for (const file of dashboardFiles) {
    const dash = (await Bun.file(resolve(repoRoot, "grafana/dashboards", file)).json()) as {
      uid: string;
      panels: Panel[];
      templating?: { list: DashboardVariable[] };
    };
    const defaults = new Map(
      (dash.templating?.list ?? [])
        .filter((v) => v.type === "datasource")
        .map((v) => [`\${${v.name}}`, v.current?.value ?? ""]),
    );
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) {
          const ref = t.datasource?.uid ?? p.datasource?.uid ?? "";
          out.push({
            dashboard: dash.uid,
            panel: p.title,
            datasourceUid: defaults.get(ref) ?? ref,
            datasourceRef: ref,
            expr: t.expr ?? t.query ?? "",
          });
        }
        walk(p.panels ?? []);
      }
    };
    walk(dash.panels);
  }
  return out;
}

export interface AlertRule {
  alert: string;
  expr: string;
}

export async function alertRules(): Promise<AlertRule[]> {
  const file = await readYaml<{ groups: { rules: AlertRule[] }[] }>("otel/alerts.yaml");
  return file.groups.flatMap((g) => g.rules);
}

/**
 * Grafana's variables replaced the way a live dashboard would: every substation/service selected, rate
 * windows sized for a test Prometheus that scrapes every second.
 */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "10s")
    .replaceAll("$__range", "1m")
    .replaceAll("$__interval", "2s")
    .replace(/\$\{?(substation|job)\}?/g, ".*");
}

const PROMQL_WORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression reads (functions, keywords, labels and strings left out). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith("(") || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return [...names];
}

/** Metric names in a Prometheus text exposition. */
export function exposedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

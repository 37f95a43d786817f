/**
 * Alerts reach someone: Prometheus sends to the Alertmanager compose runs, Alertmanager's config is valid and
 * its webhook is the one compose fills in, every app has a rule for being down, and every rule links to its
 * section of docs/runbook.md. (alertmanager.e2e.test.ts sends a real alert through both.)
 */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { alertRules, readYaml, repoRoot } from "@evgrid/testing";

// biome-ignore lint/suspicious/noExplicitAny: configs are checked structurally, field by field.
type Yaml = any;

const compose: Yaml = await readYaml("compose.yaml");
const collector: Yaml = await readYaml("otel/collector.yaml");
const prometheus: Yaml = await readYaml("otel/prometheus.yaml");
const alertmanager: Yaml = await readYaml("otel/alertmanager.yml");
const runbook = await Bun.file(resolve(repoRoot, "docs/runbook.md")).text();
const rules = (await readYaml<{ groups: { rules: Yaml[] }[] }>("otel/alerts.yaml")).groups.flatMap(
  (g) => g.rules,
);

describe("alert delivery", () => {
  test("Prometheus sends alerts to the Alertmanager compose runs, which Prometheus waits for", () => {
    const targets = prometheus.alerting.alertmanagers.flatMap((a: Yaml) =>
      a.static_configs.flatMap((s: Yaml) => s.targets),
    );
    expect(targets).toEqual(["alertmanager:9093"]);
    const am = compose.services.alertmanager;
    expect(am.image).toBe(`prom/alertmanager:\${ALERTMANAGER_VERSION}`);
    expect(am.volumes).toContain("./otel/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro");
    expect(compose.services.prometheus.depends_on.alertmanager).toEqual({ condition: "service_healthy" });
  });

  test("Alertmanager's config is valid, and compose puts ALERT_WEBHOOK_URL where its webhook is", async () => {
    if (!Bun.which("amtool")) {
      throw new Error("amtool is not installed: apt-get install -y prometheus-alertmanager");
    }
    const check = Bun.spawnSync(["amtool", "check-config", "otel/alertmanager.yml"], { cwd: repoRoot });
    expect({ code: check.exitCode, out: check.stdout.toString() }).toMatchObject({
      code: 0,
      out: expect.stringContaining("SUCCESS"),
    });
    const [receiver] = alertmanager.receivers;
    expect(alertmanager.route.receiver).toBe(receiver.name);
    const placeholder: string = receiver.webhook_configs[0].url;
    const script: string = compose.services.alertmanager.entrypoint.join(" ");
    expect(script).toContain(`p=${placeholder} `);
    expect(script).toContain("$$ALERT_WEBHOOK_URL");
    expect(compose.services.alertmanager.environment.ALERT_WEBHOOK_URL).toBe(`\${ALERT_WEBHOOK_URL}`);
  });
});

describe("alert rules", () => {
  test("every app the collector scrapes has a rule for being down and one for not being scraped at all", () => {
    const jobs: string[] = collector.receivers.prometheus.config.scrape_configs.map((j: Yaml) => j.job_name);
    const down = rules.find((r) => r.alert === "AppDown");
    const matcher = new RegExp(`^(?:${/job=~"([^"]+)"/.exec(down.expr)?.[1]})$`);
    expect(jobs.filter((j) => !matcher.test(j))).toEqual([]);
    const notScraped = rules.filter((r) => r.alert === "AppNotScraped").map((r) => r.labels.job);
    expect(notScraped.toSorted()).toEqual(jobs.toSorted());
    expect(rules.some((r) => r.alert === "BalancerStateStoreForgot")).toBe(true);
  });

  test("every rule has a runbook_url to a section of docs/runbook.md saying what it means, what to check, what to do", async () => {
    expect((await alertRules()).length).toBe(rules.length);
    const sections = new Map(
      runbook
        .split(/^## /m)
        .slice(1)
        .map((s) => [s.split("\n")[0]?.trim().toLowerCase(), s] as const),
    );
    for (const rule of rules) {
      const anchor = /^docs\/runbook\.md#([a-z0-9-]+)$/.exec(rule.annotations?.runbook_url ?? "")?.[1];
      const section = anchor ? sections.get(anchor) : undefined;
      expect({ alert: rule.alert, anchor, section: section !== undefined }).toEqual({
        alert: rule.alert,
        anchor: rule.alert.toLowerCase(),
        section: true,
      });
      for (const part of ["**Means:**", "**Check:**", "**Do:**"]) expect(section).toContain(part);
    }
  });
});

/**
 * An alert reaches someone, end to end: a real Prometheus evaluates the project's rules (otel/alerts.yaml)
 * against a substation that does not answer and a balancer exporting a store reset, and sends what fires to
 * a real Alertmanager running the project's otel/alertmanager.yml, which calls a webhook this test serves.
 * Prometheus and Alertmanager come from Debian (`apt-get install -y prometheus prometheus-alertmanager`);
 * without them this test fails, it never skips. Only the timings are shortened (scrape, evaluation, `for:`,
 * group_wait) so it needs seconds.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort, readYaml, startOnFreePort } from "@evgrid/testing";

setDefaultTimeout(60_000);

// biome-ignore lint/suspicious/noExplicitAny: configs are rewritten structurally.
type Yaml = any;
interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const dir = mkdtempSync(join(tmpdir(), "evgrid-alerting-"));
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a Debian binary on a free loopback port and waits for its /-/ready. */
async function startDaemon(binary: string, args: (port: number) => string[]) {
  if (!Bun.which(binary)) {
    throw new Error(
      `${binary} is not installed; on Debian/Ubuntu: apt-get install -y prometheus prometheus-alertmanager`,
    );
  }
  // A port found free can be taken before the daemon binds it (another process, on a busy machine): then
  // another port.
  return startOnFreePort(async (port) => {
    const proc = Bun.spawn([binary, ...args(port)], { stdout: "ignore", stderr: "pipe" });
    const stderr = new Response(proc.stderr).text();
    cleanups.push(async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    });
    const url = `http://127.0.0.1:${port}`;
    await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`${binary} exited: ${await stderr}`);
        expect((await fetch(`${url}/-/ready`)).ok).toBe(true);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    return url;
  });
}

test("a substation that does not answer and a store reset reach the operator's webhook, with their runbooks", async () => {
  // The operator's webhook: Alertmanager POSTs its JSON (version 4) here.
  const received: WebhookAlert[] = [];
  const webhook = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as { alerts: WebhookAlert[] };
      received.push(...body.alerts);
      return new Response("ok");
    },
  });
  cleanups.push(() => webhook.stop(true));

  // A balancer that exports the store-reset counter: 0 on its first scrapes, then 1 (its store forgot).
  let scrapes = 0;
  const balancer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      scrapes += 1;
      const resets = scrapes > 2 ? 1 : 0;
      return new Response(
        `# TYPE evgrid_balancer_state_store_resets_total counter\nevgrid_balancer_state_store_resets_total ${resets}\n`,
      );
    },
  });
  cleanups.push(() => balancer.stop(true));

  // The project's Alertmanager config, with the webhook where compose puts ALERT_WEBHOOK_URL and no waiting.
  const am: Yaml = await readYaml("otel/alertmanager.yml");
  am.receivers[0].webhook_configs[0].url = `http://127.0.0.1:${webhook.port}/alerts`;
  Object.assign(am.route, { group_wait: "0s", group_interval: "1s" });
  await Bun.write(join(dir, "alertmanager.yml"), JSON.stringify(am));
  const alertmanager = await startDaemon("prometheus-alertmanager", (port) => [
    `--config.file=${join(dir, "alertmanager.yml")}`,
    `--storage.path=${join(dir, "am-data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // No gossip with peers: one instance, no cluster port to collide with other tests.
    "--cluster.listen-address=",
    "--log.level=warn",
  ]);

  // The project's rules, with `for:` shortened to one evaluation.
  const rules: Yaml = await readYaml("otel/alerts.yaml");
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = "1s";
  await Bun.write(join(dir, "alerts.yml"), JSON.stringify(rules));
  const prometheusConfig = {
    global: { scrape_interval: "1s", evaluation_interval: "1s" },
    rule_files: [join(dir, "alerts.yml")],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager).host] }] }] },
    scrape_configs: [
      // Nothing listens on this port: a substation that is down.
      { job_name: "substation", static_configs: [{ targets: [`127.0.0.1:${freePort()}`] }] },
      { job_name: "balancer", static_configs: [{ targets: [`127.0.0.1:${balancer.port}`] }] },
    ],
  };
  await Bun.write(join(dir, "prometheus.yml"), JSON.stringify(prometheusConfig));
  await startDaemon("prometheus", (port) => [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "prom-data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);

  const firing = (alertname: string) =>
    received.find((a) => a.status === "firing" && a.labels.alertname === alertname);
  await eventually(
    () => {
      expect(firing("AppDown")).toBeDefined();
      expect(firing("BalancerStateStoreForgot")).toBeDefined();
    },
    { timeoutMs: 40_000, intervalMs: 100 },
  );
  expect(firing("AppDown")).toMatchObject({
    labels: { job: "substation", severity: "critical" },
    annotations: { runbook_url: "docs/runbook.md#appdown" },
  });
  expect(firing("BalancerStateStoreForgot")).toMatchObject({
    labels: { job: "balancer", severity: "critical" },
    annotations: { runbook_url: "docs/runbook.md#balancerstatestoreforgot" },
  });
  // The balancer answers its scrapes: it is not reported down.
  expect(received.filter((a) => a.labels.alertname === "AppDown" && a.labels.job === "balancer")).toEqual([]);
});

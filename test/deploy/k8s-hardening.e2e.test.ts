/**
 * deploy/k8s, every overlay: each container passes Pod Security "restricted" and writes only to volumes,
 * replicated or stateful workloads have disruption budgets, balancers spread over nodes, substations join by
 * membership (so scaling the StatefulSet is the only edit), and every Service a config names is in the build.
 */
import { describe, expect, test } from "bun:test";
import { repoRoot } from "@evgrid/testing";
import { builds, containersOf, envOf, type K8s, kinds, named, selects, workloadsOf } from "./manifests.ts";

/** The volume types Pod Security "restricted" allows. */
const RESTRICTED_VOLUMES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];

/** What breaks the "restricted" profile in one container, with the pod's settings as defaults. */
function restrictedViolations(w: K8s, c: K8s): string[] {
  const pod = w.spec.template.spec;
  const sc = { ...pod.securityContext, ...c.securityContext };
  const broken: string[] = [];
  if (sc.runAsNonRoot !== true) broken.push("runAsNonRoot");
  if (!(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0)) broken.push("runAsUser (numeric, not 0)");
  if (c.securityContext?.allowPrivilegeEscalation !== false) broken.push("allowPrivilegeEscalation");
  if (c.securityContext?.privileged) broken.push("privileged");
  if (c.securityContext?.readOnlyRootFilesystem !== true) broken.push("readOnlyRootFilesystem");
  if (!c.securityContext?.capabilities?.drop?.includes("ALL")) broken.push("capabilities drop ALL");
  const added = c.securityContext?.capabilities?.add ?? [];
  if (added.some((cap: string) => cap !== "NET_BIND_SERVICE")) broken.push("capabilities added");
  if (!["RuntimeDefault", "Localhost"].includes(sc.seccompProfile?.type)) broken.push("seccompProfile");
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) broken.push("host namespaces");
  if ((c.ports ?? []).some((p: K8s) => p.hostPort)) broken.push("hostPort");
  for (const v of pod.volumes ?? [])
    if (!Object.keys(v).some((k) => RESTRICTED_VOLUMES.includes(k))) broken.push(`volume ${v.name}`);
  return broken;
}

/** Mount paths of a container (volumeClaimTemplates are mounted by name like any volume). */
const mountsOf = (c: K8s): string[] => (c.volumeMounts ?? []).map((m: K8s) => m.mountPath);
const under = (path: string, dirs: string[]) => dirs.some((d) => path === d || path.startsWith(`${d}/`));
const dirOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

describe("deploy/k8s hardening", () => {
  test('every container and init container of every overlay passes Pod Security "restricted"', () => {
    for (const b of builds) {
      const checked = workloadsOf(b).flatMap((w) =>
        containersOf(w).map((c) => ({
          workload: `${b.overlay}: ${w.kind}/${w.metadata.name}/${c.name}`,
          broken: restrictedViolations(w, c),
        })),
      );
      expect(checked.length).toBeGreaterThanOrEqual(5);
      for (const each of checked) expect(each).toEqual({ workload: each.workload, broken: [] });
    }
  });

  test('every overlay\'s namespace enforces Pod Security "restricted", and is in the build', () => {
    for (const b of builds) {
      const namespaces = new Set(b.objects.map((o) => o.metadata.namespace).filter(Boolean));
      expect([...namespaces]).toEqual(["evgrid"]);
      const ns = named(b, "Namespace", "evgrid");
      expect(ns.metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted" });
    }
  });

  test("the app image's numeric user is the one the manifests run it as", async () => {
    const dockerfile = await Bun.file(`${repoRoot}/apps/Dockerfile`).text();
    const user = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1] ?? "";
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const [uid, gid = uid] = user.split(":").map(Number);
    for (const b of builds)
      for (const w of workloadsOf(b))
        for (const c of containersOf(w)) {
          if (!c.image.startsWith("evgrid-app")) continue;
          const sc = { ...w.spec.template.spec.securityContext, ...c.securityContext };
          expect({ c: c.name, uid: sc.runAsUser, gid: sc.runAsGroup }).toEqual({ c: c.name, uid, gid });
        }
  });

  test("with a read-only root, every path an app writes is on a volume: /tmp, journals, CDRs, the registry", () => {
    for (const b of builds)
      for (const w of workloadsOf(b))
        for (const c of w.spec.template.spec.containers) {
          if (!c.image.startsWith("evgrid-app")) continue;
          const env = envOf(w, c);
          const mounts = mountsOf(c);
          const written = [
            "/tmp",
            ...[env.SUBSTATION_DB_PATH, env.OCPP_DB_PATH].filter(Boolean).map((p) => dirOf(p as string)),
            ...(env.SUBSTATION_CDR_DIR ? [env.SUBSTATION_CDR_DIR] : []),
          ];
          for (const path of written)
            expect({ c: c.name, path, mounted: under(path, mounts) }).toMatchObject({
              mounted: true,
            });
          // Journals and the registry outlive the pod: on a claim, not an emptyDir.
          const claims = new Set([
            ...(w.spec.volumeClaimTemplates ?? []).map((t: K8s) => t.metadata.name),
            ...(w.spec.template.spec.volumes ?? [])
              .filter((v: K8s) => v.persistentVolumeClaim)
              .map((v: K8s) => v.name),
          ]);
          for (const db of [env.SUBSTATION_DB_PATH, env.OCPP_DB_PATH].filter(Boolean)) {
            const m = c.volumeMounts.find((m: K8s) => under(dirOf(db as string), [m.mountPath]));
            expect({ c: c.name, db, onClaim: claims.has(m.name) }).toMatchObject({ onClaim: true });
          }
        }
  });

  test("every replicated or stateful workload has a disruption budget that still lets a node drain", () => {
    for (const b of builds) {
      const scaled = new Map(
        kinds(b, "HorizontalPodAutoscaler").map((h) => [h.spec.scaleTargetRef.name, h.spec.minReplicas]),
      );
      for (const w of workloadsOf(b)) {
        const replicas = scaled.get(w.metadata.name) ?? w.spec.replicas ?? 1;
        const stateful =
          w.kind === "StatefulSet" ||
          (w.spec.template.spec.volumes ?? []).some((v: K8s) => v.persistentVolumeClaim);
        if (replicas < 2 && !stateful) continue;
        const budgets = kinds(b, "PodDisruptionBudget").filter((p) =>
          selects(p.spec.selector.matchLabels, w),
        );
        const name = `${b.overlay}: ${w.kind}/${w.metadata.name}`;
        expect({ name, budgets: budgets.length }).toEqual({ name, budgets: 1 });
        const [pdb] = budgets;
        // A budget that never lets a pod go blocks every drain: some pod must be evictable.
        const evictable =
          pdb.spec.maxUnavailable !== undefined ? pdb.spec.maxUnavailable : replicas - pdb.spec.minAvailable;
        expect({ name, evictable: evictable >= 1 }).toEqual({ name, evictable: true });
      }
    }
  });

  test("balancer replicas are spread over nodes, preferred (one node still takes them all)", () => {
    for (const b of builds) {
      const pod = named(b, "Deployment", "balancer").spec.template.spec;
      const labels = named(b, "Deployment", "balancer").spec.template.metadata.labels;
      const spread = (pod.topologySpreadConstraints ?? []).find(
        (t: K8s) =>
          t.topologyKey === "kubernetes.io/hostname" &&
          selects(t.labelSelector.matchLabels, { spec: { template: { metadata: { labels } } } }),
      );
      expect(spread).toMatchObject({ whenUnsatisfiable: "ScheduleAnyway", maxSkew: 1 });
    }
  });

  test("substations join by membership: no list tied to a replica count, each advertises its stable name", () => {
    for (const b of builds) {
      for (const w of workloadsOf(b))
        for (const c of w.spec.template.spec.containers) {
          const urls = envOf(w, c).SUBSTATION_URLS;
          expect({ c: c.name, SUBSTATION_URLS: urls ?? "" }).toEqual({ c: c.name, SUBSTATION_URLS: "" });
        }
      const sts = named(b, "StatefulSet", "substation");
      const c = sts.spec.template.spec.containers[0];
      const port = c.ports.find((p: K8s) => p.name === "http").containerPort;
      // As if scaled to 5: each ordinal advertises its own name under the headless Service.
      for (const ordinal of [0, 4]) {
        const env = envOf(sts, c, ordinal);
        expect(env.ADVERTISE_URL).toBe(`http://substation-${ordinal}.${sts.spec.serviceName}:${port}`);
      }
      expect(named(b, "Service", sts.spec.serviceName).spec.clusterIP).toBe("None");
      // The balancers' headless Service names every replica, ready or not (a balancer is ready once joined).
      const env = envOf(sts, c);
      expect(env.BALANCER_DISCOVERY).toBe("dns");
      const target = new URL(env.BALANCER_URLS as string);
      const members = named(b, "Service", target.hostname);
      expect(members.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
      expect(selects(members.spec.selector, named(b, "Deployment", "balancer"))).toBe(true);
      expect(members.spec.ports.map((p: K8s) => p.port)).toContain(Number(target.port));
    }
  });
});

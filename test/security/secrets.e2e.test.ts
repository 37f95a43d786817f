/**
 * No demo secret unlocks a grid: apps refuse a short or published SERVICE_TOKEN unless the operator says
 * EVGRID_INSECURE_DEMO=1 (and then they say so), compose and the Kubernetes overlay ship no secret, and any
 * token-looking value committed next to them is on the published list the apps refuse.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { resolve } from "node:path";
import { INSECURE_DEMO_WARNING, PUBLISHED_SERVICE_TOKENS } from "@evgrid/kit";
import { repoRoot, runCommand, spawnApp } from "@evgrid/testing";
import { Glob } from "bun";

setDefaultTimeout(30_000);

const [demoToken] = PUBLISHED_SERVICE_TOKENS as [string];
const start = (env: Record<string, string>) =>
  runCommand([process.execPath, "apps/balancer/src/main.ts"], { HOST: "127.0.0.1", PORT: "0", ...env });

describe("SERVICE_TOKEN", () => {
  test.each([
    ["a published one", demoToken, "published"],
    ["one of 31 characters", "x".repeat(31), "at least 32 characters"],
  ])("%s is refused at start, exit 2, saying why and how to make one", async (_, token, why) => {
    const { code, stderr } = await start({ SERVICE_TOKEN: token });
    expect(code).toBe(2);
    expect(stderr).toContain("SERVICE_TOKEN");
    expect(stderr).toContain(why);
    expect(stderr).toContain("openssl rand");
  });

  test("EVGRID_INSECURE_DEMO=1 lets a demo token through, with a warning at start and on /healthz", async () => {
    await using app = await spawnApp("balancer", { SERVICE_TOKEN: demoToken, EVGRID_INSECURE_DEMO: "1" });
    expect(app.stderr()).toContain(INSECURE_DEMO_WARNING);
    const health = (await (await fetch(`${app.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, insecureDemo: true, warning: INSECURE_DEMO_WARNING });
  });

  test("a good token: no warning, /healthz says nothing of demos", async () => {
    await using app = await spawnApp("balancer", { SERVICE_TOKEN: "a".repeat(16) + "b".repeat(16) });
    const health = (await (await fetch(`${app.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health.insecureDemo).toBeUndefined();
    expect(app.stderr()).not.toContain("EVGRID_INSECURE_DEMO");
  });
});

/** Files that configure a deployment: whatever secret they carry is published. */
const DEPLOY_FILES = [".env", "compose.yaml", ...new Glob("deploy/**/*.{yaml,yml,env}").scanSync(repoRoot)];
/**
 * `NAME=value` or `NAME: value` for a secret's name, where the value is a literal (not `${...}`, `$(...)`, a
 * YAML alias `*name` of an interpolated anchor, or a `...` placeholder in a comment).
 */
const SECRET_LITERAL =
  /(?<!\{)\b([A-Z_]*(?:TOKEN|PASSWORD|API_KEYS|SECRET))\s*[=:][ \t]*["']?([^\s"'$#{}*.][^\s"'#]*)/g;

describe("the repository ships no secret", () => {
  test("a token-looking value committed to .env, compose or deploy/ is on the published list", async () => {
    const found: string[] = [];
    for (const file of DEPLOY_FILES) {
      const text = await Bun.file(resolve(repoRoot, file)).text();
      for (const [, name, value] of text.matchAll(SECRET_LITERAL)) {
        if (!PUBLISHED_SERVICE_TOKENS.includes(value as string)) found.push(`${file}: ${name}=${value}`);
      }
    }
    expect(found).toEqual([]);
  });

  test("the regex sees a committed token (so the test above can fail)", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, as compose.yaml writes it.
    const sample = "SERVICE_TOKEN=abc-secret-123\n  GF_PASSWORD: hunter2\nSERVICE_TOKEN: ${SERVICE_TOKEN:?x}";
    expect([...sample.matchAll(SECRET_LITERAL)].map((m) => m[2])).toEqual(["abc-secret-123", "hunter2"]);
  });

  test.each(["SERVICE_TOKEN", "GRAFANA_ADMIN_PASSWORD", "VALKEY_PASSWORD"])(
    "compose refuses to start without %s in the shell, saying how to make one",
    async (name) => {
      const secrets: Record<string, string> = {
        SERVICE_TOKEN: "compose-check-token-0123456789abcdef",
        GRAFANA_ADMIN_PASSWORD: "compose-check-password",
        VALKEY_PASSWORD: "compose-check-valkey",
        [name]: "",
      };
      // docker-compose 1.x predates the top-level `name:` key.
      const text = (await Bun.file(resolve(repoRoot, "compose.yaml")).text()).replace(/^name: .*$/m, "");
      const tmp = resolve(repoRoot, `node_modules/.compose-secrets-${name}.yaml`);
      await Bun.write(tmp, text);
      const cmd = ["docker-compose", "-f", tmp, "--project-directory", repoRoot, "config", "-q"];
      const { code, stderr } = await runCommand(cmd, secrets);
      expect(code).not.toBe(0);
      expect(stderr).toContain(`set ${name}`);
      expect(stderr).toContain("openssl rand");
    },
  );
});

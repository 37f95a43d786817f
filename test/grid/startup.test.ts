import { describe, expect, test } from "bun:test";
import { repoRoot } from "@evgrid/testing";

async function start(app: string, env: Record<string, string>) {
  const proc = Bun.spawn([process.execPath, `apps/${app}/src/main.ts`], {
    cwd: repoRoot,
    env: { ...process.env, HOST: "127.0.0.1", SERVICE_TOKEN: "startup-test-token-0123456789abcdef", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, stderr };
}

describe("apps validate their configuration at start", () => {
  test.each([
    ["substation", { PORT: "eighty" }, "PORT"],
    ["substation", { SUBSTATION_CAPACITY_KW: "-5" }, "SUBSTATION_CAPACITY_KW"],
    ["substation", { SUBSTATION_ID: "Sub 1" }, "SUBSTATION_ID"],
    ["balancer", { SUBSTATION_URLS: "localhost:8101" }, "SUBSTATION_URLS"],
    ["balancer", { DISPATCH_MAX_TRIES: "0" }, "DISPATCH_MAX_TRIES"],
    ["charge-api", { BALANCER_URL: "ftp://x" }, "BALANCER_URL"],
    ["balancer", { SERVICE_TOKEN: "short" }, "SERVICE_TOKEN"],
  ])("%s refuses %j naming %s, exit 2, no stack trace", async (app, env, variable) => {
    const { code, stderr } = await start(app, env);
    expect(code).toBe(2);
    expect(stderr).toContain("invalid configuration");
    expect(stderr).toContain(variable);
    expect(stderr).not.toContain("    at ");
  });

  test("a port already in use is one clear line and exit 1", async () => {
    using taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("busy") });
    const { code, stderr } = await start("substation", { PORT: String(taken.port) });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      `substation: substation cannot listen on 127.0.0.1:${taken.port} (EADDRINUSE)`,
    );
  });
});

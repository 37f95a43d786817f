/** `bun run dev --balancers n --redis`: balancer replicas sharing state in a local redis-server. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";
import type { BalancerRouter } from "@evgrid/balancer";
import type { ChargeApiRouter } from "@evgrid/charge-api";
import { internalClient } from "@evgrid/link";
import { alive, descendants, eventually, runCommand, startDev, startRedis, tempDir } from "@evgrid/testing";

setDefaultTimeout(60_000);

const runDevMain = (args: string[], env: Record<string, string> = {}) =>
  runCommand([process.execPath, "tools/dev/src/main.ts", ...args], env);

describe("bun run dev with balancer replicas", () => {
  test("more than one balancer without --redis, or --redis without redis-server: exit 2 with the fix, before any app starts", async () => {
    const unshared = await runDevMain(["--balancers", "2", "--random-ports"]);
    expect(unshared.code).toBe(2);
    expect(unshared.stderr).toContain("--balancers: more than one balancer needs shared state: add --redis");
    using scratch = tempDir("evgrid-dev-no-redis-");
    const dataDir = join(scratch.path, "data");
    const missing = await runDevMain(
      ["--balancers", "2", "--redis", "--random-ports", "--data-dir", dataDir],
      {
        PATH: "/nonexistent",
        REDIS_URL: "",
      },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("apt-get install -y redis-server");
    // One line, and nothing started: no substation came up only to be stopped, no data directory taken.
    expect({
      stdout: missing.stdout,
      lines: missing.stderr.trim().split("\n").length,
      dataDir: existsSync(dataDir),
    }).toEqual({ stdout: "", lines: 1, dataDir: false });
  });

  test("--balancers 2 --redis: both replicas share a local redis-server; Ctrl-C stops it too, after the balancers", async () => {
    const dev = await startDev(["--random-ports", "--balancers", "2", "--redis"], { env: { REDIS_URL: "" } });
    try {
      expect(dev.urls.balancers).toHaveLength(2);
      for (const url of dev.urls.balancers) {
        const b = internalClient<BalancerRouter>(url, { timeoutMs: 5000, token: dev.urls.serviceToken });
        expect(await b.stateInfo.query()).toMatchObject({ shared: true, storeUp: true });
      }
      const api = internalClient<ChargeApiRouter>(dev.urls.chargeApi, { timeoutMs: 5000 });
      const grants = await Promise.all(
        Array.from({ length: 10 }, () =>
          api.requestCharge.mutate({
            vehicleId: "ev-dev-replicas",
            durationS: 60,
            idempotencyKey: "dev-key",
          }),
        ),
      );
      expect(new Set(grants.map((g) => g.sessionId)).size).toBe(1);
      // Its redis-server wants the password made for this run, which the banner does not show.
      expect(dev.output()).toMatch(/state in redis:\/\/:\*\*\*@127\.0\.0\.1:\d+/);
      const tree = await descendants(dev.proc.pid);
      // Out of the terminal's process group (the run's), so Ctrl-C does not stop it under the balancers.
      const [store] = await dev.pidsOf("redis-server");
      const pgid = await new Response(Bun.spawn(["ps", "-o", "pgid=", "-p", String(store)]).stdout).text();
      expect(Number(pgid)).not.toBe(dev.proc.pid);
      const { code, output } = await dev.interrupt();
      expect(code).toBe(0);
      for (const pid of tree) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
      // Its one signal is the runner's SIGTERM, once the apps are stopped (it logs every signal it takes).
      const signals = output.split("\n").filter((l) => /^redis\s+\|.*Received SIG/.test(l));
      expect(signals.map((l) => /Received (SIG\w+)/.exec(l)?.[1])).toEqual(["SIGTERM"]);
      expect(output.indexOf(signals[0] as string)).toBeGreaterThan(output.indexOf("dev: stopping all apps"));
    } finally {
      await dev[Symbol.asyncDispose]();
    }
  });

  test("--redis: the run's password is on no disk, and its redis-server dies with a runner killed by kill -9", async () => {
    using data = tempDir("evgrid-dev-redis-");
    const dev = await startDev(["--random-ports", "--balancers", "2", "--redis", "--data-dir", data.path], {
      env: { REDIS_URL: "" },
    });
    try {
      const [store] = await dev.pidsOf("redis-server");
      expect(store !== undefined && dev.tree.includes(store)).toBe(true);
      // Its config (with the password) came on redis-server's stdin: no file keeps it.
      const withPassword = readdirSync(data.path, { withFileTypes: true })
        .filter((f) => f.isFile() && readFileSync(join(data.path, f.name)).includes("requirepass"))
        .map((f) => f.name);
      expect(withPassword).toEqual([]);
      // It works in the data directory: a SAVE by hand writes there, not where bun run dev was started.
      if (process.platform === "linux")
        expect(readlinkSync(`/proc/${store}/cwd`)).toBe(realpathSync(data.path));
      // The runner itself (not its `bun run` wrapper), as a kill -9 or an OOM kill ends it.
      const [runner] = await dev.pidsOf("tools/dev/src/main.ts");
      process.kill(runner as number, "SIGKILL");
      await eventually(() => expect(dev.tree.filter(alive)).toEqual([]), { timeoutMs: 30_000 });
    } finally {
      await dev[Symbol.asyncDispose]();
    }
  });

  test("--redis with a REDIS_URL that carries a password: shared, and the password printed nowhere", async () => {
    const password = "dev-s3cret-0123456789";
    await using redis = await startRedis({ password });
    const dev = await startDev(["--random-ports", "--balancers", "2", "--redis"], {
      env: { REDIS_URL: redis.url },
    });
    try {
      for (const url of dev.urls.balancers) {
        const b = internalClient<BalancerRouter>(url, { timeoutMs: 5000, token: dev.urls.serviceToken });
        expect(await b.stateInfo.query()).toMatchObject({ shared: true, storeUp: true });
      }
      expect(dev.output()).toContain(`state in redis://:***@127.0.0.1:${redis.port}`);
      const { code, output, stderr } = await dev.interrupt();
      expect(code).toBe(0);
      expect(output + stderr).not.toContain(password);
    } finally {
      await dev[Symbol.asyncDispose]();
    }
  });
});

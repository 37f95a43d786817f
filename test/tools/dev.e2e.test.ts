import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { alive, eventually, repoRoot, runClient, startDev } from "@evgrid/testing";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";

// The data directory of the run whose script is killed goes with this file's run.
afterAll(removeScratchDirs);

setDefaultTimeout(60_000);

describe("bun run dev, end to end, as a user runs it", () => {
  test("starts every app, the client's 20 requests use both substations, Ctrl-C leaves no process behind", async () => {
    await using dev = await startDev(["--random-ports"]);
    expect(Object.keys(dev.urls.substations).toSorted()).toEqual(["substation-1", "substation-2"]);
    // A token made for this run, not compose's demo token from .env (which Bun would load by itself).
    const composeToken = /^SERVICE_TOKEN=(.*)$/m.exec(await Bun.file(`${repoRoot}/.env`).text())?.[1];
    expect(dev.urls.serviceToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(dev.urls.serviceToken).not.toBe(composeToken as string);
    // The runner, the two substations, the balancer and the charge-api are real processes.
    expect(dev.tree.length).toBeGreaterThanOrEqual(4);

    for (const url of [dev.urls.chargeApi, dev.urls.balancer, ...Object.values(dev.urls.substations)]) {
      const health = (await (await fetch(`${url}/healthz`)).json()) as { ok: boolean };
      expect(health.ok).toBe(true);
      expect((await fetch(`${url}/metrics`)).headers.get("content-type")).toStartWith("text/plain");
    }

    const client = await runClient(["--url", dev.urls.chargeApi, "--interval", "0.05"]);
    expect(client.code).toBe(0);
    const routed = client.stdout.match(/^\d+: Routed to substation-\d \(\d+\.\d kW\)$/gm) ?? [];
    expect(routed).toHaveLength(20);
    expect(routed.some((l) => l.includes("substation-1"))).toBe(true);
    expect(routed.some((l) => l.includes("substation-2"))).toBe(true);
    expect(client.stdout).toContain("20 requests: 20 admitted");

    // The original system's clients work unchanged.
    const legacy = await fetch(`${dev.urls.chargeApi}/request_charge`, { method: "POST" });
    expect(await legacy.text()).toMatch(/^Routed to substation-[12]\n$/);

    const { code, output } = await dev.interrupt();
    expect(code).toBe(0);
    expect(output).toContain("all apps stopped");
    expect(dev.tree.filter(alive)).toEqual([]);
  });

  test("a SERVICE_TOKEN from the environment is used by every app and printed nowhere", async () => {
    const token = "dev-own-token-0123456789abcdefghijkl";
    await using dev = await startDev(["--random-ports"], { env: { SERVICE_TOKEN: token } });
    const listed = await fetch(`${dev.urls.balancer}/trpc/listSubstations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(listed.status).toBe(200);
    expect(dev.output()).toContain("Authorization: Bearer $SERVICE_TOKEN");
    expect(dev.output()).not.toContain(token);
  });

  test("Ctrl-C that reaches an app before the runner (a busy machine) is still a clean stop", async () => {
    await using dev = await startDev(["--random-ports"]);
    // What the race looks like to the runner: the app stops (exit 0) and the runner's own signal is late.
    for (const pid of await dev.pidsOf("apps/charge-api/")) process.kill(pid, "SIGINT");
    expect(await dev.proc.exited).toBe(0);
    expect(dev.output()).not.toContain("exited unexpectedly");
    expect(dev.output()).toContain("all apps stopped");
    expect(dev.tree.filter(alive)).toEqual([]);
  });

  test("SIGTERM to the runner alone also stops every app", async () => {
    await using dev = await startDev(["--random-ports", "--substations", "3", "--capacities", "150,100,50"]);
    expect(Object.keys(dev.urls.substations)).toHaveLength(3);
    const { code } = await dev.terminate();
    expect(code).toBe(0);
    expect(dev.tree.filter(alive)).toEqual([]);
  });

  test("its terminal closed (SIGHUP to the runner) stops every app as Ctrl-C does", async () => {
    await using dev = await startDev(["--random-ports"]);
    dev.proc.kill("SIGHUP");
    expect(await dev.proc.exited).toBe(0);
    expect(dev.output()).toContain("all apps stopped");
    expect(dev.tree.filter(alive)).toEqual([]);
  });

  test("a script that started it (as the soak and the bench do) and is killed leaves no process behind", async () => {
    // The script starts bun run dev (its own process group, out of reach of the script's terminal), prints
    // every process of it, and waits; then it is killed as a kill -9 or an OOM kill would.
    const data = scratchDir("evgrid-dev-killed-");
    const script = `import { startDev } from "@evgrid/testing";
      const dev = await startDev(["--random-ports", "--data-dir", ${JSON.stringify(data)}]);
      console.log(JSON.stringify([dev.proc.pid, ...dev.tree]));
      await new Promise(() => {});`;
    const parent = Bun.spawn([process.execPath, "-e", script], { cwd: repoRoot, stdout: "pipe" });
    const reader = parent.stdout.getReader();
    let printed = "";
    while (!printed.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      printed += new TextDecoder().decode(value);
    }
    const processes = JSON.parse(printed) as number[];
    expect(processes.filter(alive).length).toBeGreaterThanOrEqual(5);
    parent.kill("SIGKILL");
    await eventually(() => expect(processes.filter(alive)).toEqual([]), { timeoutMs: 30_000 });
  });

  test("a second copy on the same data directory is refused, naming the first, which keeps serving", async () => {
    const data = scratchDir("evgrid-dev-shared-");
    await using first = await startDev(["--random-ports", "--data-dir", data]);
    const second = Bun.spawn([process.execPath, "run", "dev", "--random-ports", "--data-dir", data], {
      cwd: repoRoot,
      stdout: "ignore",
      stderr: "pipe",
    });
    const stderr = await new Response(second.stderr).text();
    expect(await second.exited).toBe(2);
    expect(stderr).toContain(`dev: another bun run dev (pid `);
    expect(stderr).toContain("give this one its own --data-dir");
    expect((await fetch(`${first.urls.chargeApi}/healthz`)).ok).toBe(true);
  });

  test("bad options are refused with the flag named and exit status 2", async () => {
    const proc = Bun.spawn([process.execPath, "run", "dev", "--substations", "3", "--capacities", "1,2"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(2);
    expect(stderr).toContain("--capacities");
    // An empty environment variable sets nothing: the error names the flag typed, not one never given.
    const blank = Bun.spawn([process.execPath, "run", "dev", "--capacities", "abc"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, DEV_SUBSTATIONS: "", DEV_CHARGERS: "" },
    });
    // What it says is wrong (the help follows it).
    const blankErr = (await new Response(blank.stderr).text()).split("Usage:")[0] as string;
    expect(await blank.exited).toBe(2);
    expect(blankErr).toContain("--capacities: each capacity must be a number of kW");
    expect(blankErr).not.toContain("--substations");
    expect(blankErr).not.toContain("--chargers");
  });
});

/** The chaos run's grid: stopping it stops every process it started, a replica still being restarted too. */
import { expect, setDefaultTimeout, test } from "bun:test";
import { alive, descendants, eventually } from "@evgrid/testing";
import { startChaosGrid } from "../src/chaos/grid.ts";

setDefaultTimeout(90_000);

/** The balancer processes below this one (`ps` itself is a child too, so they are picked by command line). */
async function balancers(): Promise<number[]> {
  const mine = new Set(await descendants(process.pid));
  const ps = await new Response(Bun.spawn(["ps", "-e", "-o", "pid=,args="]).stdout).text();
  return ps
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, ...args]) => mine.has(Number(pid)) && args.some((a) => a.endsWith("balancer/src/main.ts")))
    .map(([pid]) => Number(pid));
}

test("a replica whose restart is under way when the grid stops is gone once the stop resolves", async () => {
  const grid = await startChaosGrid({ substations: 1, replicas: 1, capacityKw: 100 });
  const [old] = await balancers();
  grid.killReplica(0);
  const restart = grid.restartReplica(0);
  // The fresh replica is started (a process), not yet listening: a Ctrl-C of `bun run chaos` lands here.
  const fresh = await eventually(
    async () => {
      const found = (await balancers()).filter((pid) => pid !== old);
      expect(found).toHaveLength(1);
      return found[0] as number;
    },
    { timeoutMs: 30_000, intervalMs: 5 },
  );
  await grid[Symbol.asyncDispose]();
  // `bun run chaos` exits as soon as the grid is stopped: nothing of it may still run then.
  expect(alive(fresh)).toBe(false);
  await restart;
});

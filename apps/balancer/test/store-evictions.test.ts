import { describe, expect, test } from "bun:test";
import { EvictionWatch, readEvictions } from "../src/store-evictions.ts";

const info = (policy: string, maxmemory: number, evicted: number) =>
  `# Server\r\nrun_id:5a4b3c2d1e0f\r\n# Memory\r\nused_memory:1000\r\nmaxmemory:${maxmemory}\r\nmaxmemory_policy:${policy}\r\n# Stats\r\nevicted_keys:${evicted}\r\n`;

function quietLog() {
  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m) } as unknown as ConstructorParameters<
    typeof EvictionWatch
  >[0];
  return { log, warnings };
}

describe("what the store's INFO says about evictions", () => {
  test("a policy that evicts matters only with a maxmemory", () => {
    expect(readEvictions(info("allkeys-lru", 1 << 26, 3))).toEqual({
      evicting: true,
      policy: "allkeys-lru",
      evictedKeys: 3,
    });
    expect(readEvictions(info("volatile-ttl", 1 << 26, 0))?.evicting).toBe(true);
    expect(readEvictions(info("allkeys-lru", 0, 0))?.evicting).toBe(false); // no limit: never evicts
    expect(readEvictions(info("noeviction", 1 << 26, 0))?.evicting).toBe(false);
    expect(readEvictions("PONG")).toBeNull();
  });

  test("keys evicted since the last look are counted, those before the first look are not", async () => {
    const watch = new EvictionWatch();
    let evicted = 7;
    const read = async () => info("allkeys-lru", 1 << 26, evicted);
    expect(await watch.check(read)).toEqual({
      evicting: true,
      policy: "allkeys-lru",
      evictedSince: 0,
      runId: "5a4b3c2d1e0f",
    });
    expect((await watch.check(read))?.evictedSince).toBe(0);
    evicted = 12;
    expect((await watch.check(read))?.evictedSince).toBe(5);
    evicted = 0; // restarted: its epoch tells
    expect((await watch.check(read))?.evictedSince).toBe(0);
    evicted = 1;
    expect((await watch.check(read))?.evictedSince).toBe(1);
  });

  test("a store that refuses INFO is said once and not asked again; one that is down is asked again", async () => {
    const { log, warnings } = quietLog();
    const watch = new EvictionWatch(log);
    let asked = 0;
    const down = async () => {
      asked += 1;
      throw new Error("INFO: no answer within 300 ms");
    };
    expect(await watch.check(down)).toBeNull();
    expect(await watch.check(down)).toBeNull();
    expect(asked).toBe(2);
    expect(warnings).toEqual([]);
    const refused = async () => {
      asked += 1;
      throw new Error("NOPERM User evgrid has no permissions to run the 'info' command");
    };
    expect(await watch.check(refused)).toBeNull();
    expect(await watch.check(refused)).toBeNull();
    expect(asked).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("noeviction");
  });
});

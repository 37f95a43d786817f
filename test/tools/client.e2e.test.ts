import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { runClient, startGrid } from "@evgrid/testing";

setDefaultTimeout(30_000);

describe("bun run client", () => {
  test("--help explains every flag and exits 0", async () => {
    const { stdout, code } = await runClient(["--help"]);
    expect(code).toBe(0);
    for (const flag of [
      "--url",
      "--count",
      "--interval",
      "--concurrency",
      "--max-kw",
      "--duration-s",
      "--json",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  test("bad flags exit 2 naming the flag", async () => {
    const { stderr, code } = await runClient(["--count", "lots"]);
    expect(code).toBe(2);
    expect(stderr).toContain('--count: must be an integer >= 1 (got "lots")');
    // Values the API would refuse on every request are refused here, once.
    const power = await runClient(["--max-kw", "0"]);
    expect(power.code).toBe(2);
    expect(power.stderr).toContain("--max-kw: must be from 1 to 350 kW");
    const inverted = await runClient(["--min-kw", "20", "--max-kw", "5"]);
    expect(inverted.code).toBe(2);
    expect(inverted.stderr).toContain("--min-kw: must not be above --max-kw");
  });

  test("prints a line per request and a per-substation summary; refusals are reported, not crashes", async () => {
    await using grid = await startGrid({ capacitiesKw: [8.4, 4.2] });
    const { stdout, code } = await runClient([
      "--url",
      grid.api.url,
      "--count",
      "4",
      "--interval",
      "0",
      "--duration-s",
      "30",
    ]);
    expect(code).toBe(0);
    expect(stdout.match(/^\d: Routed to substation-\d \(\d+\.\d kW\)$/gm)).toHaveLength(3);
    expect(stdout).toMatch(/^4: Refused: GRID_FULL/m);
    expect(stdout).toContain("4 requests: 3 admitted, 1 not admitted (GRID_FULL 1)");
  });

  test("--watch follows each admitted session live: its power when another starts, then its end", async () => {
    await using grid = await startGrid({ capacitiesKw: [22] });
    const { stdout, code } = await runClient([
      "--url",
      grid.api.url,
      "--count",
      "2",
      "--interval",
      "0.5",
      "--max-kw",
      "22",
      "--min-kw",
      "1",
      "--duration-s",
      "1.5",
      "--vehicle-prefix",
      "w",
      "--watch",
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain("watching 2 sessions");
    // w-1 had the site alone, shared it when w-2 started, and both ended by their time.
    expect(stdout).toMatch(/ {2}w-1 {2}substation-1 {2}11\.0 kW/);
    expect(stdout.match(/ended \(time_elapsed\)/g)).toHaveLength(2);
  });

  test("--api-key (or $API_KEY) is sent on every call and on the watch's stream, for a charge-api with API_KEYS", async () => {
    const key = "client-test-key-0123456789";
    await using grid = await startGrid({ capacitiesKw: [22], chargeApi: { API_KEYS: key } });
    const args = ["--url", grid.api.url, "--count", "1", "--duration-s", "1", "--vehicle-prefix", "k"];
    const refused = await runClient(args);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^1: Failed: UNAUTHORIZED/m);
    const keyed = await runClient([...args, "--watch"], { API_KEY: key });
    expect(keyed.code).toBe(0);
    expect(keyed.stdout).toMatch(/^1: Routed to substation-1/m);
    expect(keyed.stdout).toContain("ended (time_elapsed)");
  });

  test("an unreachable API is a failure (exit 1), not a hang", async () => {
    const { stdout, code } = await runClient(["--url", "http://127.0.0.1:9", "--count", "1"]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^1: Failed: UNREACHABLE/m);
  });
});

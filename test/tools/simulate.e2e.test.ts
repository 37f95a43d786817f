/**
 * `bun run simulate` as a user runs it, and its report opened by a real browser: headless Chromium
 * (Debian's `chromium`) loads the HTML from the file, and every chart must have rendered.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot, runCommand } from "@evgrid/testing";

setDefaultTimeout(60_000);

const run = (cmd: string[]) => runCommand(cmd);

describe("bun run simulate", () => {
  test("--help explains the scenario format; a bad scenario is exit 2 naming the field", async () => {
    const help = await run([process.execPath, "run", "simulate", "--help"]);
    expect(help.code).toBe(0);
    for (const field of [
      "substations:",
      "operatorLimits:",
      "arrivals:",
      "sessionsCsv:",
      "vehicles:",
      "priorities:",
    ])
      expect(help.stdout).toContain(field);
    const dir = mkdtempSync(join(tmpdir(), "evgrid-sim-"));
    await Bun.write(
      join(dir, "bad.json"),
      JSON.stringify({ name: "x", substations: [{ id: "A", capacityKw: 1 }] }),
    );
    const bad = await run([process.execPath, "run", "simulate", "--scenario", join(dir, "bad.json")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("substations.0.id");
  });

  test("the shipped scenario runs; headless Chromium opens the report from disk and every chart rendered", async () => {
    const chromium = Bun.which("chromium") ?? Bun.which("chromium-browser");
    if (!chromium)
      throw new Error("chromium is not installed: apt-get install -y chromium (scripts/test.sh does)");
    const out = mkdtempSync(join(tmpdir(), "evgrid-report-"));
    const sim = await run([process.execPath, "run", "simulate", "--out", out]);
    expect(sim.code).toBe(0);
    expect(sim.stdout).toContain("evgrid-priorities");
    const report = `file://${join(out, "report.html")}`;
    const flags = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
    ];
    // One browser run: the DOM as it rendered it, and a picture of it kept as an artefact of the run.
    const artifacts = resolve(repoRoot, "artifacts");
    mkdirSync(artifacts, { recursive: true });
    const shot = join(artifacts, "simulation-report.png");
    const dom = await run([
      chromium,
      ...flags,
      "--dump-dom",
      `--screenshot=${shot}`,
      "--window-size=1000,2400",
      report,
    ]);
    expect(dom.code).toBe(0);
    const figures = dom.stdout.match(/<figure class="chart">[\s\S]*?<\/figure>/g) ?? [];
    // 4 substations' power, queue length, waiting-time CDF, unmet energy.
    expect(figures).toHaveLength(7);
    for (const f of figures) {
      expect(f).toContain("<svg");
      const paths = [...f.matchAll(/<path[^>]*\sd="([^"]*)"/g)].map((m) => m[1] ?? "");
      expect(paths.filter((d) => d.length > 20).length).toBeGreaterThan(3);
    }
    expect((await Bun.file(shot).arrayBuffer()).byteLength).toBeGreaterThan(20_000);
  });
});

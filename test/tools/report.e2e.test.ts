/**
 * The simulator's report as a planner opens it: `bun run simulate` into a temp dir, then headless Chromium
 * (Debian's `chromium`) loads report.html from disk. A probe script, added to a copy of the page, opens the
 * "other sites" (the click a reader makes) and measures what the browser laid out in every chart: the
 * policies' lines, the bars and points ECharts marks as data, and the texts (the time axes' labels). Missing
 * Chromium fails the test.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { removeScratchDirs, repoRoot, runCommand, scratchDir } from "@evgrid/testing";
import { colorOf } from "../../apps/simulator/src/charts.ts";
import type { SimulationReport } from "../../apps/simulator/src/report.ts";

// The CSV files, reports and scenarios written here go with the run.
afterAll(removeScratchDirs);

setDefaultTimeout(120_000);

interface Figure {
  kind: string;
  site: string | null;
  inDetails: boolean;
  svg: boolean;
  widthPx: number;
  /** Stroked, unfilled paths of a policy's colour: the policy's line, with its laid-out width. */
  lines: { stroke: string; widthPx: number; heightPx: number }[];
  /** Data marks (bars, points) ECharts tags with their series and data index, and their laid-out size. */
  marks: { series: number; data: number; widthPx: number; heightPx: number }[];
  /** Every text the chart shows (title, axis labels, legend). */
  texts: string[];
}

/** Runs in the page: opens every <details>, then describes each chart as the browser laid it out. */
const PROBE = `<script>
for (const d of document.querySelectorAll("details")) d.open = true;
const figures = [...document.querySelectorAll("figure.chart")].map((f) => {
  const svg = f.querySelector("svg");
  const box = (e) => e.getBoundingClientRect();
  return {
    kind: f.dataset.chart, site: f.dataset.site ?? null, inDetails: f.closest("details") !== null,
    svg: svg !== null, widthPx: svg ? box(svg).width : 0,
    lines: [...f.querySelectorAll('path[fill="none"][stroke]')]
      .map((p) => ({ stroke: p.getAttribute("stroke"), widthPx: box(p).width, heightPx: box(p).height })),
    marks: [...f.querySelectorAll('[ecmeta_ssr_type="chart"]')].map((m) => ({
      series: Number(m.getAttribute("ecmeta_series_index")), data: Number(m.getAttribute("ecmeta_data_index")),
      widthPx: box(m).width, heightPx: box(m).height })),
    texts: [...f.querySelectorAll("text")].map((t) => t.textContent),
  };
});
const verdicts = [...document.querySelectorAll("li.verdict")].map((l) => l.textContent);
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify({ figures, verdicts, body: document.body.innerText });
document.body.append(out);
</script>`;

async function openInChromium(html: string, shot?: string) {
  const chromium = Bun.which("chromium") ?? Bun.which("chromium-browser");
  if (!chromium)
    throw new Error("chromium is not installed: apt-get install -y chromium (scripts/test.sh does)");
  const probe = html.replace("</body>", `${PROBE}</body>`);
  const dir = scratchDir("evgrid-probe-");
  writeFileSync(join(dir, "probe.html"), probe);
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
  const run = await runCommand([
    chromium,
    ...flags,
    `--user-data-dir=${join(dir, "profile")}`,
    "--window-size=1200,3000",
    "--dump-dom",
    ...(shot ? [`--screenshot=${shot}`] : []),
    `file://${join(dir, "probe.html")}`,
  ]);
  expect(run.code).toBe(0);
  const text = /<pre id="probe">([\s\S]*?)<\/pre>/.exec(run.stdout)?.[1];
  if (!text) throw new Error(`the probe did not run; chromium said: ${run.stderr.slice(-2000)}`);
  const unescaped = text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
  return JSON.parse(unescaped) as { figures: Figure[]; verdicts: string[]; body: string };
}

/**
 * Every chart drawn: one line per policy (across the day for time series; a CDF of no waits is a vertical
 * line at 0), data marks with a size (bars).
 */
function expectEveryChartDrawn(figures: Figure[], report: SimulationReport) {
  const policies = report.policies.map((p) => p.policy.id);
  const lineOf = (f: Figure, i: number) =>
    f.lines.filter(
      (l) =>
        l.stroke === colorOf(i) &&
        (f.kind === "site-power" || f.kind === "queue"
          ? l.widthPx > f.widthPx / 2
          : l.widthPx + l.heightPx > 20),
    );
  for (const f of figures) {
    const where = `${f.kind} ${f.site ?? ""}`;
    expect({ where, svg: f.svg, wide: f.widthPx > 200 }).toEqual({ where, svg: true, wide: true });
    if (["site-power", "queue", "wait-cdf", "sweep"].includes(f.kind))
      for (const [i, id] of policies.entries())
        expect({ where, id, drawn: lineOf(f, i).length >= 1 }).toEqual({ where, id, drawn: true });
  }
  const [tradeoff] = figures;
  // Within limits: a bar per policy with some height; over capacity: a bar exactly for those that overloaded.
  const bars = (series: number) =>
    (tradeoff?.marks ?? []).filter((m) => m.series === series && m.widthPx > 2 && m.heightPx > 1).length;
  expect(bars(0)).toBe(policies.length);
  expect(bars(1)).toBe(report.policies.filter((p) => p.overCapacityKwh > 1).length);
  const unmet = figures.find((f) => f.kind === "unmet");
  expect(unmet?.marks.filter((m) => m.widthPx > 2).length).toBe(policies.length);
}

const simulate = (args: string[]) => runCommand([process.execPath, "run", "simulate", ...args]);

describe("the simulation report in a browser", () => {
  test("six sites, a sweep: trade-off first, a verdict per policy, every site and the sweep drawn", async () => {
    const dir = scratchDir("evgrid-report-");
    const scenario = join(dir, "six.json");
    writeFileSync(
      scenario,
      JSON.stringify({
        name: "Six sites",
        seed: 11,
        substations: [40, 60, 80, 100, 120, 150].map((kw, i) => ({ id: `site-${i + 1}`, capacityKw: kw })),
        operatorLimits: [{ from: "17:00", to: "18:30", share: 0.6 }],
        arrivals: { perDay: 600, peaks: [{ at: "08:30", spreadH: 1, share: 0.5 }] },
      }),
    );
    const out = join(dir, "out");
    const sim = await simulate(["--scenario", scenario, "--out", out, "--sweep", "capacity=40:160:60"]);
    expect(sim.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as SimulationReport;
    const page = await openInChromium(readFileSync(join(out, "report.html"), "utf8"));
    const kinds = page.figures.map((f) => f.kind);
    expect(kinds[0]).toBe("tradeoff");
    expect(kinds.filter((k) => k === "sweep")).toHaveLength(1);
    const sites = page.figures.filter((f) => f.kind === "site-power");
    expect(sites.map((f) => f.site).sort()).toEqual(sortedSites(6));
    expect(sites.filter((f) => !f.inDetails)).toHaveLength(4);
    expect(sites.filter((f) => f.inDetails)).toHaveLength(2);
    expect(page.body).toContain("the other 2 are one click away");
    expectEveryChartDrawn(page.figures, report);
    // The sweep: a point per policy and capacity.
    const sweep = page.figures.find((f) => f.kind === "sweep");
    expect(sweep?.marks.filter((m) => m.widthPx > 0)).toHaveLength(report.policies.length * 3);
    expect(page.verdicts).toEqual(report.policies.map((p) => p.verdict));
    for (const [i, p] of report.policies.entries()) {
      expect(page.verdicts[i]).toStartWith(`${p.policy.id}: `);
      expect(page.verdicts[i]).toContain("p95 wait");
    }
    // One CSV line per vehicle and policy.
    const csvLines = readFileSync(join(out, "sessions.csv"), "utf8").trimEnd().split("\n");
    expect(csvLines).toHaveLength(1 + report.scenario.vehicles * report.policies.length);
  });

  test("the shipped scenario: all its sites drawn, worst 4 in view, the rest one click away", async () => {
    const out = scratchDir("evgrid-report-");
    const sim = await simulate(["--out", out]);
    expect(sim.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as SimulationReport;
    // One browser run: the layout measured, and a picture kept as an artefact of the run.
    const artifacts = resolve(repoRoot, "artifacts");
    mkdirSync(artifacts, { recursive: true });
    const page = await openInChromium(
      readFileSync(join(out, "report.html"), "utf8"),
      join(artifacts, "simulation-report.png"),
    );
    const sites = page.figures.filter((f) => f.kind === "site-power");
    expect(sites).toHaveLength(report.scenario.substations);
    expect(sites.filter((f) => !f.inDetails)).toHaveLength(4);
    expect(page.figures[0]?.kind).toBe("tradeoff");
    expect(page.verdicts).toHaveLength(report.policies.length);
    expectEveryChartDrawn(page.figures, report);
    // Its evening's last cars leave after midnight: every time axis goes on to them, its hours labelled +1d.
    const samples = Object.values(report.series.queue)[0]?.length ?? 0;
    expect((samples - 1) * report.series.sampleMin).toBeGreaterThan(24 * 60);
    for (const f of page.figures.filter((x) => x.kind === "site-power" || x.kind === "queue")) {
      const where = `${f.kind} ${f.site ?? ""}`;
      expect({ where, nextDay: f.texts.includes("+1d 00:00") }).toEqual({ where, nextDay: true });
    }
    expect(page.body).toContain('times past midnight read "+1d"');
  });
});

const sortedSites = (n: number) => Array.from({ length: n }, (_, i) => `site-${i + 1}`).sort();

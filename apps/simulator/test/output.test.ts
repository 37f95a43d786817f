/**
 * `--out`: the run never writes over its own input, and a directory it cannot write to is exit 2 naming the
 * path and the system's reason (before the sessions are read), never a stack trace.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeScratchDirs, scratchDir } from "@evgrid/testing/temp";
import { acnDir, mainPath, noStack, runMain } from "./run-main.ts";

afterAll(removeScratchDirs);
// A child bun per test: well under a second alone, more on a busy shared machine.
setDefaultTimeout(30_000);

const quick = ["--optimum-max-sessions", "0"];

describe("--out never overwrites the input", () => {
  test("the scenario's own directory: refused before anything is written, both paths named", async () => {
    const { dir, scenario, csv } = acnDir();
    const before = readFileSync(csv, "utf8");
    const run = await runMain(["--scenario", scenario, "--out", dir, ...quick]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${csv} is ${csv}, the scenario's sessionsCsv`);
    expect(run.stderr).not.toMatch(noStack);
    expect(readFileSync(csv, "utf8")).toBe(before);
    expect(existsSync(join(dir, "report.json"))).toBe(false);
  });

  test("through a link, and the scenario file itself: compared as real files", async () => {
    const { dir, scenario, csv } = acnDir();
    const out = join(dir, "out");
    mkdirSync(out);
    symlinkSync(csv, join(out, "sessions.csv"));
    const linked = await runMain(["--scenario", scenario, "--out", out, ...quick]);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toContain(`${join(out, "sessions.csv")} is ${csv}, the scenario's sessionsCsv`);

    const own = scratchDir("evgrid-main-");
    const json = join(own, "report.json");
    const text = JSON.stringify({
      name: "x",
      substations: [{ id: "a", capacityKw: 50 }],
      arrivals: { perDay: 5 },
    });
    writeFileSync(json, text);
    const self = await runMain(["--scenario", json, "--out", own, ...quick]);
    expect(self.code).toBe(2);
    expect(self.stderr).toContain(`${json} is ${json}, the scenario file`);
    expect(readFileSync(json, "utf8")).toBe(text);
  });
});

describe("an --out that cannot be written: exit 2, the path and the reason, one line", () => {
  const cases: [string, (dir: string) => string, (out: string) => string][] = [
    ["an existing file", (d) => file(d), (out) => `cannot write to ${out}: not a directory`],
    ["a path under a file", (d) => join(file(d), "sub"), (out) => `${out}: not a directory`],
    [
      "a directory named sessions.csv in it",
      (d) => {
        mkdirSync(join(d, "out", "sessions.csv"), { recursive: true });
        return join(d, "out");
      },
      (out) => `cannot write to ${join(out, "sessions.csv")}: is a directory`,
    ],
  ];
  if (process.platform === "linux")
    cases.push([
      "under /proc",
      () => "/proc/nope",
      () => "cannot write to /proc/nope: no such file or directory",
    ]);

  test.each(cases)("%s", async (_, outOf, message) => {
    const { dir, scenario } = acnDir();
    const out = outOf(dir);
    const run = await runMain(["--scenario", scenario, "--out", out, ...quick]);
    expect(run.stderr).toContain(message(out));
    expect(run.stderr).not.toMatch(noStack);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.code).toBe(2);
  });

  test("checked before the sessions are read: a bad CSV is not what it reports", async () => {
    const { dir, scenario, csv } = acnDir();
    writeFileSync(csv, "connectionTime,kWhDelivered\n");
    const out = file(dir);
    const run = await runMain(["--scenario", scenario, "--out", out, ...quick]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot write to ${out}: not a directory`);
    expect(run.stderr).not.toContain("disconnectTime");
  });

  test.skipIf(!existsSync("/dev/full"))("a full disk under the table (stdout) is not exit 0", async () => {
    const { dir, scenario } = acnDir();
    const run = await runMain(["--scenario", scenario, "--out", join(dir, "out"), ...quick], {
      stdout: "/dev/full",
    });
    expect(run.stderr).toContain("cannot write to stdout: no space left on device");
    expect(run.stderr).not.toMatch(noStack);
    expect(run.code).toBe(2);
  });
});

function file(dir: string): string {
  const path = join(dir, "afile");
  writeFileSync(path, "");
  return path;
}

describe("a write that fails midway", () => {
  test("a file size limit hit while sessions.csv is written: exit 2 naming it, never a cut file and exit 0", async () => {
    const { dir, scenario } = acnDir();
    const out = join(dir, "out");
    // 16 KiB a file (SIGXFSZ ignored, so a write past it is short, then fails): sessions.csv needs about 40.
    const command = `trap "" XFSZ; ulimit -f 16; exec bun ${mainPath} --scenario ${scenario} --out ${out} --optimum-max-sessions 0`;
    const child = Bun.spawn(["bash", "-c", command], { stdout: "ignore", stderr: "pipe" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain(`simulate: cannot write to ${join(out, "sessions.csv")}: file too large`);
    expect(stderr).not.toMatch(noStack);
  });
});

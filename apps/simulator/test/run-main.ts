/** `bun run simulate` as a user runs it: a child process, its exit code and what it printed. */
import { cpSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scratchDir } from "@evgrid/testing/temp";

/** The command's entry point, for a test that starts it its own way. */
export const mainPath = resolve(import.meta.dir, "../src/main.ts");
const scenarios = resolve(import.meta.dir, "../scenarios");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs main.ts with these arguments; `stdout` a file to send it to (e.g. /dev/full) instead of a pipe. */
export async function runMain(args: string[], opts: { stdout?: string } = {}): Promise<Run> {
  const child = Bun.spawn(["bun", mainPath, ...args], {
    stdout: opts.stdout ? Bun.file(opts.stdout) : "pipe",
    stderr: "pipe",
  });
  const out = child.stdout instanceof ReadableStream ? new Response(child.stdout).text() : "";
  const [code, stdout, stderr] = await Promise.all([child.exited, out, new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

/**
 * A scratch directory holding the ACN sample (80 sessions) as `sessions.csv` and a scenario replaying it,
 * `scenario.yaml`: a run of it takes well under a second.
 */
export function acnDir(): { dir: string; scenario: string; csv: string } {
  const dir = scratchDir("evgrid-main-");
  const csv = join(dir, "sessions.csv");
  cpSync(join(scenarios, "acn-sample.csv"), csv);
  const scenario = join(dir, "scenario.yaml");
  writeFileSync(
    scenario,
    [
      "name: ACN sample",
      "substations: [{ id: garage-a, capacityKw: 60 }, { id: garage-b, capacityKw: 40 }]",
      "sessionsCsv: sessions.csv",
      "",
    ].join("\n"),
  );
  return { dir, scenario, csv };
}

/** What every refusal looks like: exit 2, the message, no stack trace. */
export const noStack = /^\s+at |^\s*\d+ \| /m;

/**
 * `bun run bench:csv [--rows N]`: writes an ACN-layout CSV of N sessions (with a `userInputs` column, as
 * ACN's exports have) to a temporary directory, reads it as `bun run simulate` does, and prints the time and
 * the process's peak RSS: the CSV is streamed, so memory grows with the rows kept, not with the file.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { z } from "zod";
import { parseScenario } from "./scenario.ts";
import { readSessionsCsv } from "./sessions-csv.ts";

const flags = parseCommandLine({
  command: "bench:csv",
  help: "Usage: bun run bench:csv [--rows 1000000]\n\nStreams an ACN-layout CSV of N sessions; prints time and peak RSS.",
  flags: { rows: { type: "string" } },
  schema: z.object({ rows: numberFlag(1, { integer: true }).default(1_000_000) }),
});

const dir = mkdtempSync(join(tmpdir(), "evgrid-bench-csv-"));
try {
  const path = join(dir, "sessions.csv");
  const fd = openSync(path, "w");
  writeSync(fd, "sessionID,siteID,stationID,connectionTime,disconnectTime,kWhDelivered,userInputs\n");
  const start = Date.parse("2026-03-10T00:00:00Z");
  for (let i = 0; i < flags.rows; i += 10_000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(flags.rows, i + 10_000); j++) {
      // 20,000 stations, each used for 3 h every 20,000 s (5.6 h): no overlap.
      const t = start + j * 1000;
      const from = new Date(t).toUTCString();
      const to = new Date(t + 3 * 3_600_000).toUTCString();
      const inputs = `"[{'WhPerMile': 250, 'kWhRequested': ${(j % 40) + 5}.0, 'minutesAvailable': 180, 'userID': ${j % 9973}}]"`;
      lines.push(`s-${j},1,CA-${j % 20_000},"${from}","${to}",${((j % 40) + 5).toFixed(3)},${inputs}`);
    }
    writeSync(fd, `${lines.join("\n")}\n`);
  }
  closeSync(fd);
  const mb = statSync(path).size / 1024 / 1024;
  const scenario = parseScenario({
    name: "bench",
    substations: [{ id: "a", capacityKw: 100 }],
    sessionsCsv: path,
  });
  const rssBeforeMb = process.memoryUsage().rss / 1024 / 1024;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const arrivals = readSessionsCsv(scenario, dir);
  const cpu = process.cpuUsage(cpu0);
  const s = (performance.now() - t0) / 1000;
  console.log(
    [
      `${arrivals.length} rows, ${mb.toFixed(0)} MB: read in ${s.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`,
      `RSS before reading ${rssBeforeMb.toFixed(0)} MB, peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    ].join("\n"),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

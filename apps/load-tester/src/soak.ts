/**
 * `bun run soak`: one substation process under a steady arrival rate of short sessions with a short
 * retention, sampling its journal, charge detail records and memory, then a restart to time start-up.
 * Shows whether they level off. `bun run soak --help`.
 */
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorDataOf } from "@evgrid/contract";
import { numberFlag, parseCommandLine } from "@evgrid/kit/cli";
import { onShutdown } from "@evgrid/kit/process";
import { internalClient } from "@evgrid/link";
import type { SubstationRouter } from "@evgrid/substation";
import { rssBytes, runTempDir, spawnListening, stopSpawned } from "@evgrid/testing";
import { z } from "zod";
import { runOpen } from "./load/driver.ts";
import { RunStats, summarizeLatency } from "./load/stats.ts";

const HELP = `Usage: bun run soak [options]

Runs one substation process with a short retention, sends it sessions at a steady rate through its tRPC
startSession (service token), and every --sample-s prints the journal's size (file and WAL), its rows,
the charge detail records written, the process's memory (RSS) and admission latency. Then restarts the
substation and times its start-up. Everything lives in a temporary directory, removed at the end, or
when Ctrl-C, SIGTERM or a closed terminal stops it (exit 130); the next run removes one a kill -9 left.

Options:
  --duration-s <s>    how long to send                            (default: 600)
  --rate <n/s>        sessions started per second                 (default: 100)
  --session-s <s>     each session's duration                     (default: 1)
  --retention-s <s>   SUBSTATION_RETENTION_H (and the key TTL)    (default: 60)
  --sample-s <s>      how often to sample                         (default: 30)
  --json              print one JSON report, nothing else
  -h, --help          show this help

Examples:
  bun run soak                                  # 10 minutes at 100 sessions/s
  bun run soak --duration-s 5 --sample-s 1 --retention-s 2 --rate 50`;

function flags() {
  return parseCommandLine({
    command: "soak",
    help: HELP,
    flags: {
      "duration-s": { type: "string" },
      rate: { type: "string" },
      "session-s": { type: "string" },
      "retention-s": { type: "string" },
      "sample-s": { type: "string" },
      json: { type: "boolean" },
    },
    schema: z
      .object({
        "duration-s": numberFlag(1).default(600),
        rate: numberFlag(1).default(100),
        "session-s": numberFlag(0.01).default(1),
        "retention-s": numberFlag(1).default(60),
        "sample-s": numberFlag(0.5).default(30),
        json: z.boolean().default(false),
      })
      .transform((f) => ({
        durationS: f["duration-s"],
        rate: f.rate,
        sessionS: f["session-s"],
        retentionS: f["retention-s"],
        sampleS: f["sample-s"],
        json: f.json,
      })),
  });
}

interface Sample {
  atS: number;
  admitted: number;
  perS: number;
  p99Ms: number;
  maxMs: number;
  journalMb: number;
  walMb: number;
  activeRows: number;
  endedRows: number;
  cdrMb: number;
  /** Sessions exported as charge detail records and deleted from the journal so far (the substation's counters). */
  exported: number;
  pruned: number;
  rssMb: number;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => Math.round((bytes / MB) * 100) / 100;
const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** Sessions the journal's log holds: active (a start and no end yet) and ended (an end). */
function rowCounts(dbPath: string): { active: number; ended: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const count = (sql: string) => (db.query(sql).get() as { n: number }).n;
    return {
      active: count(`SELECT count(DISTINCT session_id) AS n FROM events s WHERE kind = 'start'
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.kind = 'end' AND e.session_id = s.session_id)`),
      ended: count("SELECT count(*) AS n FROM events WHERE kind = 'end'"),
    };
  } finally {
    db.close();
  }
}

/** What the substation says it exported and pruned, from its /metrics. */
async function retentionCounters(url: string): Promise<{ exported: number; pruned: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    exported: read("evgrid_substation_cdr_exported_sessions_total"),
    pruned: read("evgrid_substation_journal_pruned_sessions_total"),
  };
}

const dirBytes = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).reduce((sum, f) => sum + sizeOf(join(dir, f)), 0) : 0;

async function main() {
  const opts = flags();
  const say = (s: string) => {
    if (!opts.json) console.log(s);
  };
  // Named for this run (its pid): one a killed run (kill -9) left is removed by the next.
  const dir = runTempDir("evgrid-soak-");
  // Ctrl-C, SIGTERM or its terminal closed (SIGHUP) mid-run: the substation is stopped (its export would
  // make its directories again), one still starting too, then the directory goes; exit 130. kit's onShutdown
  // takes the echo of one Ctrl-C (the process group's, and `bun run` forwarding it) as one.
  onShutdown(
    async () => {
      await stopSpawned();
      rmSync(dir, { recursive: true, force: true });
    },
    { signalExitCode: 130, timeoutMs: 30_000, hangup: true },
  );
  const dbPath = join(dir, "substation.sqlite");
  const cdrDir = join(dir, "cdr");
  const token = randomBytes(24).toString("base64url");
  const retentionH = String(opts.retentionS / 3600);
  const env = {
    PORT: "0",
    HOST: "127.0.0.1",
    SERVICE_TOKEN: token,
    SUBSTATION_DB_PATH: dbPath,
    // Room for every session: the soak measures the journal, not refusals.
    SUBSTATION_CAPACITY_KW: "1000000",
    SUBSTATION_RETENTION_H: retentionH,
    IDEMPOTENCY_TTL_H: retentionH,
    OTEL_SDK_DISABLED: "true",
  };
  const spawn = async () => {
    const t0 = performance.now();
    const sub = await spawnListening([process.execPath, "apps/substation/src/main.ts"], env);
    return { sub, startupMs: Math.round(performance.now() - t0) };
  };

  try {
    const first = await spawn();
    let sub = first.sub;
    const pid = sub.proc.pid;
    say(
      `soak: ${opts.rate} sessions/s of ${opts.sessionS} s for ${opts.durationS} s, retention ${opts.retentionS} s, journal ${dbPath}`,
    );
    const client = internalClient<SubstationRouter>(sub.url, { token, timeoutMs: 10_000 });
    const stats = new RunStats();
    const samples: Sample[] = [];
    const t0 = performance.now();
    let lastAdmitted = 0;
    const sample = async () => {
      const counts = rowCounts(dbPath);
      const window = summarizeLatency(stats.takeWindow());
      const atS = Math.round((performance.now() - t0) / 100) / 10;
      const s: Sample = {
        atS,
        admitted: stats.admitted,
        perS: Math.round((stats.admitted - lastAdmitted) / Math.max(0.1, atS - (samples.at(-1)?.atS ?? 0))),
        p99Ms: window.p99Ms,
        maxMs: window.maxMs,
        journalMb: mb(sizeOf(dbPath)),
        walMb: mb(sizeOf(`${dbPath}-wal`)),
        activeRows: counts.active,
        endedRows: counts.ended,
        cdrMb: mb(dirBytes(cdrDir)),
        ...(await retentionCounters(sub.url)),
        rssMb: mb(await rssBytes(pid)),
      };
      lastAdmitted = stats.admitted;
      samples.push(s);
      say(row(Object.values(s)));
    };
    say(row(COLUMNS));
    let sampling: Promise<void> = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sample();
    }, opts.sampleS * 1000);
    await runOpen(
      stats,
      async (i) => {
        try {
          const r = await client.startSession.mutate({
            vehicleId: `soak-${i}`,
            idempotencyKey: `soak-${i}`,
            maxKw: 11,
            durationS: opts.sessionS,
          });
          return {
            ok: true,
            substationId: r.session.substationId,
            allocatedKw: r.session.allocatedKw,
            tries: 1,
          };
        } catch (err) {
          const data = errorDataOf(err);
          return { ok: false, code: data?.code ?? "TRANSPORT", reason: data?.reason ?? String(err) };
        }
      },
      opts.rate,
      { durationS: opts.durationS },
      { maxInflight: 2000, poisson: false },
    );
    clearInterval(sampler);
    await sampling;
    // A last sample at the end of sending, unless the sampler has just taken one.
    if ((performance.now() - t0) / 1000 - (samples.at(-1)?.atS ?? 0) > opts.sampleS / 2) await sample();

    // Restart on the journal the run left behind, and time it to listening.
    await sub.stop();
    const second = await spawn();
    sub = second.sub;
    const afterRestart = { startupMs: second.startupMs, rssMb: mb(await rssBytes(sub.proc.pid)) };
    await sub.stop();

    const half = samples.find((s) => s.atS >= opts.durationS / 2) ?? samples[0];
    const last = samples.at(-1);
    const growth = (pick: (s: Sample) => number) =>
      half && last && pick(half) > 0 ? Math.round(((pick(last) - pick(half)) / pick(half)) * 100) : null;
    const report = {
      options: opts,
      outcomes: Object.fromEntries(stats.outcomes),
      latency: summarizeLatency(stats.latency),
      samples,
      startup: {
        firstMs: first.startupMs,
        afterRunMs: afterRestart.startupMs,
        rssAfterRestartMb: afterRestart.rssMb,
      },
      secondHalfGrowthPercent: {
        journalAndWal: growth((s) => s.journalMb + s.walMb),
        endedRows: growth((s) => s.endedRows),
        rss: growth((s) => s.rssMb),
      },
    };
    if (opts.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      say(`\noutcomes: ${JSON.stringify(report.outcomes)}; latency ${JSON.stringify(report.latency)}`);
      say(
        `start-up: ${first.startupMs} ms on an empty journal, ${afterRestart.startupMs} ms after the run (RSS ${afterRestart.rssMb} MB)`,
      );
      const g = report.secondHalfGrowthPercent;
      say(
        `over the second half: journal + WAL ${signed(g.journalAndWal)}, ended rows ${signed(g.endedRows)}, RSS ${signed(g.rss)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const COLUMNS = [
  "t s",
  "admitted",
  "per s",
  "p99 ms",
  "max ms",
  "journal MB",
  "WAL MB",
  "active",
  "ended",
  "CDR MB",
  "exported",
  "pruned",
  "RSS MB",
];
const row = (cells: (string | number)[]) =>
  cells.map((c, i) => String(c).padStart(i === 0 ? 5 : 10)).join(" ");
const signed = (p: number | null) => (p === null ? "n/a" : `${p >= 0 ? "+" : ""}${p}%`);

await main();
// Idle keep-alive connections to the stopped substation would hold the process open for a while.
process.exit(0);

/**
 * What the journal costs per request a substation process serves over HTTP: the process (`bun
 * apps/substation/src/main.ts`) runs under `strace -c -f` (pwrite64, fsync, fdatasync), CONCURRENCY callers
 * each start a session, hold it HOLD_MS and stop it, REQUESTS in all, with a retention short enough that
 * export and pruning run during the run. Prints the system calls per request, and the journal's commits and
 * events per request where the substation exposes them (evgrid_substation_journal_{commits,events}_total).
 *
 *   bun apps/substation/scripts/journal-cost-http.ts
 *   SUBSTATION_SYNC=full REQUESTS=2000 CONCURRENCY=32 bun apps/substation/scripts/journal-cost-http.ts
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metricValue, spawnListening } from "@evgrid/testing";
import { drive, loadLine, loadOf } from "./journal-load.ts";

const load = loadOf(3000);
const token = `journal-cost-${crypto.randomUUID()}`;

const dir = mkdtempSync(join(tmpdir(), "evgrid-journal-http-"));
const straceOut = join(dir, "strace.txt");
const trace = ["strace", "-c", "-f", "-e", "trace=pwrite64,fsync,fdatasync", "-o", straceOut];
const sub = await spawnListening([...trace, process.execPath, "apps/substation/src/main.ts"], {
  HOST: "127.0.0.1",
  PORT: "0",
  SERVICE_TOKEN: token,
  SUBSTATION_DB_PATH: join(dir, "substation.sqlite"),
  SUBSTATION_CAPACITY_KW: "1000000",
  SUBSTATION_SYNC: load.sync,
  // Two seconds: ended sessions are exported and pruned while the run goes on.
  SUBSTATION_RETENTION_H: String(2 / 3600),
  IDEMPOTENCY_TTL_H: String(2 / 3600),
  OTEL_SDK_DISABLED: "true",
});
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const post = async (procedure: string, input: unknown) => {
  const res = await fetch(`${sub.url}/trpc/${procedure}`, {
    method: "POST",
    headers,
    body: JSON.stringify(input),
  });
  if (res.status !== 200) throw new Error(`${procedure}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { result: { data: { session: { sessionId: string } } } }).result.data;
};
const appends = async () => {
  const page = await (await fetch(`${sub.url}/metrics`)).text();
  return {
    commits: metricValue(page, "evgrid_substation_journal_commits_total"),
    events: metricValue(page, "evgrid_substation_journal_events_total"),
  };
};

const before = await appends();
const startMs = performance.now();
await drive(
  load,
  async (vehicleId, shape) => (await post("startSession", { vehicleId, ...shape })).session.sessionId,
  (sessionId) => post("stopSession", { sessionId }),
);
const elapsedS = (performance.now() - startMs) / 1000;
await Bun.sleep(3000); // a retention round or two after the last end: its export and pruning counted too
const after = await appends();
// The substation is strace's child: SIGTERM it, and strace writes its summary as it exits.
const child = Number((await Bun.$`pgrep -P ${sub.pid}`.text()).trim().split("\n")[0] ?? Number.NaN);
process.kill(child, "SIGTERM");
await sub.proc.exited;
const calls = (name: string) => {
  const line = readFileSync(straceOut, "utf8")
    .split("\n")
    .find((l) => l.trim().endsWith(` ${name}`));
  return Number(line?.trim().split(/\s+/)[3] ?? 0);
};
const per = (n: number | undefined) => (n === undefined ? null : Number((n / load.requests).toFixed(3)));
console.log(
  JSON.stringify({
    ...loadLine(load, elapsedS),
    pwritePerRequest: per(calls("pwrite64")),
    fsyncPerRequest: per(calls("fsync") + calls("fdatasync")),
    commitsPerRequest: per(after.commits === undefined ? undefined : after.commits - (before.commits ?? 0)),
    eventsPerRequest: per(after.events === undefined ? undefined : after.events - (before.events ?? 0)),
  }),
);
rmSync(dir, { recursive: true, force: true });

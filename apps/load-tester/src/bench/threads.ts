/**
 * CPU per process and per thread, from /proc (Linux): what the allocator pairs and the per-thread table in
 * BENCHMARKS.md are measured with. Threads are grouped by name (the JavaScript thread is named after the
 * process, "bun"; JavaScriptCore's helpers, the HTTP client thread and mimalloc's are named on their own).
 */
import { cpuMs } from "@evgrid/testing";

const TICK_MS = 10; // USER_HZ is 100 on Linux

function ticksOf(stat: string): { name: string; ms: number } {
  const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat: 12 and 13 once pid and name are cut off.
  return { name, ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
}

/** CPU ms so far of each thread of `pid`, by thread id (a thread that ended is no longer counted). */
export async function threadCpu(pid: number): Promise<Map<number, { name: string; ms: number }>> {
  const out = new Map<number, { name: string; ms: number }>();
  const { readdir } = await import("node:fs/promises");
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await Bun.file(`/proc/${pid}/task/${tid}/stat`)
      .text()
      .catch(() => "");
    if (stat) out.set(Number(tid), ticksOf(stat));
  }
  return out;
}

/** Minor page faults so far (field 10 of stat). */
export async function minorFaults(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

export interface Sample {
  cpuMs: number;
  faults: number;
  threads: Map<number, { name: string; ms: number }>;
}

export async function sample(pid: number): Promise<Sample> {
  // Process CPU (every thread, ended ones too), as every other measurement reads it.
  const [processMs, faults, threads] = await Promise.all([cpuMs(pid), minorFaults(pid), threadCpu(pid)]);
  return { cpuMs: processMs, faults, threads };
}

/** CPU ms between two samples grouped by thread name; the JavaScript thread (the first, tid = pid) as "js". */
export function byThreadName(pid: number, before: Sample, after: Sample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, t] of after.threads) {
    const name = tid === pid ? "js" : t.name.replace(/\s*\d+$/, "");
    out[name] = (out[name] ?? 0) + t.ms - (before.threads.get(tid)?.ms ?? 0);
  }
  return out;
}

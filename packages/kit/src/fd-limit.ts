import { readFileSync } from "node:fs";

/**
 * The process's open-file limit (RLIMIT_NOFILE), soft and hard, from /proc/self/limits (Linux); undefined
 * elsewhere. Every socket is a file: a server that hits its soft limit stops accepting, /healthz included.
 * Bun (1.4.5, checked by test/security/websockets.test.ts) raises the soft limit to the hard one at start,
 * so this only reads and reports it; the hard limit is the launcher's (`ulimit -Hn`, LimitNOFILE=, the
 * container runtime's `nofile`).
 */
export function openFilesLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const [, soft, hard] = /^Max open files\s+(\S+)\s+(\S+)/.exec(line ?? "") ?? [];
    if (!soft || !hard) return undefined;
    const value = (v: string) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v));
    return { soft: value(soft), hard: value(hard) };
  } catch {
    return undefined;
  }
}

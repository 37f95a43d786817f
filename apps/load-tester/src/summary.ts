import type { RouterOutputs } from "@evgrid/charge-api";

type ChargeGrant = RouterOutputs["requestCharge"];

export type Outcome =
  | { index: number; ok: true; grant: ChargeGrant; latencyMs: number }
  | {
      index: number;
      ok: false;
      code: string;
      reason: string;
      message: string;
      latencyMs: number;
      /** Substations that refused this request (from GRID_FULL details). */
      refusedBy: string[];
    };

export interface SubstationTally {
  substationId: string;
  sessions: number;
  allocatedKw: number;
  refusals: number;
}

export interface Summary {
  requests: number;
  admitted: number;
  failed: number;
  byReason: Record<string, number>;
  substations: SubstationTally[];
}

/** One line per answer, as the original tester printed: `1: Routed to substation-2 (11.0 kW)`. */
export function describeOutcome(o: Outcome): string {
  if (o.ok) return `${o.index}: Routed to ${o.grant.substationId} (${o.grant.allocatedKw.toFixed(1)} kW)`;
  const verb = o.code === "TOO_MANY_REQUESTS" ? "Refused" : "Failed";
  return `${o.index}: ${verb}: ${o.reason} (${o.message})`;
}

export function summarize(outcomes: readonly Outcome[]): Summary {
  const tallies = new Map<string, SubstationTally>();
  const tally = (id: string) => {
    let t = tallies.get(id);
    if (!t) {
      t = { substationId: id, sessions: 0, allocatedKw: 0, refusals: 0 };
      tallies.set(id, t);
    }
    return t;
  };
  const byReason: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.ok) {
      const t = tally(o.grant.substationId);
      t.sessions += 1;
      t.allocatedKw += o.grant.allocatedKw;
    } else {
      byReason[o.reason] = (byReason[o.reason] ?? 0) + 1;
      for (const id of o.refusedBy) tally(id).refusals += 1;
    }
  }
  const admitted = outcomes.filter((o) => o.ok).length;
  return {
    requests: outcomes.length,
    admitted,
    failed: outcomes.length - admitted,
    byReason,
    substations: [...tallies.values()].sort((a, b) => a.substationId.localeCompare(b.substationId)),
  };
}

export function formatSummary(s: Summary): string {
  const rows = [
    ["substation", "sessions", "kW at start", "refusals"],
    ...s.substations.map((t) => [t.substationId, `${t.sessions}`, t.allocatedKw.toFixed(1), `${t.refusals}`]),
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("   ");
  const reasons = Object.entries(s.byReason)
    .map(([r, n]) => `${r} ${n}`)
    .join(", ");
  return [
    line(rows[0] ?? []),
    ...rows.slice(1).map(line),
    `${s.requests} requests: ${s.admitted} admitted, ${s.failed} not admitted${reasons ? ` (${reasons})` : ""}`,
  ].join("\n");
}

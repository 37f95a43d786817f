import type { EventRow, LiveRecord } from "./journal-events.ts";

/**
 * The checkpoint row, as it is written (Journal.commit) and read back (replay). Only the newest is kept, so
 * each holds a whole snapshot of the active sessions, each by the `seq` of its start:
 * - `energies`, JSON [startSeq, kWh, ...]: the energy each drew so far (none yet: left out);
 * - `metered`, JSON [startSeq, kWh, ...]: the reading of each whose charger's meter reported (OCPP gateway).
 *   A restart keeps it as the session's meteredKwh: its meter still decides its end, and a booking claimed
 *   at another substation's charger is owed only what its meter has not delivered.
 * Meters report often (a MeterValues a minute per charger, or faster); their readings ride with the checkpoint
 * written every SUBSTATION_CHECKPOINT_MS anyway, never a write of their own. A crash loses what a meter
 * reported since the last checkpoint (a clean stop writes one last), as it loses the allocation's energy.
 */

/** One session's energy as the station checkpoints it: drawn so far, and its meter's reading once one reported. */
export interface EnergyFigure {
  sessionId: string;
  deliveredKwh: number;
  meteredKwh?: number | null;
}

/** What a checkpoint sets of one session's record. */
export interface EnergyChange {
  deliveredKwh: number;
  meteredKwh: number | null;
}

/**
 * The columns of a checkpoint row over `sessions` (the active ones once its group is in, in start order):
 * the figures given, the others' as last known; and what changes of the sessions given.
 */
export function checkpointColumns(sessions: Iterable<LiveRecord>, given: readonly EnergyFigure[]) {
  const byId = new Map(given.map((g) => [g.sessionId, g]));
  const changes = new Map<string, EnergyChange>();
  const energies: number[] = [];
  const metered: number[] = [];
  let fromSeq: number | null = null;
  for (const l of sessions) {
    fromSeq ??= l.startSeq;
    const g = byId.get(l.rec.sessionId);
    const figure = g ? { deliveredKwh: g.deliveredKwh, meteredKwh: g.meteredKwh ?? null } : l.rec;
    if (g) changes.set(l.rec.sessionId, figure);
    if (g || figure.deliveredKwh !== 0) energies.push(l.startSeq, figure.deliveredKwh);
    if (figure.meteredKwh !== null) metered.push(l.startSeq, figure.meteredKwh);
  }
  const columns = {
    energies: JSON.stringify(energies),
    metered: metered.length > 0 ? JSON.stringify(metered) : null,
    fromSeq,
  };
  return { columns, changes };
}

/**
 * Whether the journal holds these figures already, each as its session's record (`live`): a checkpoint of
 * them, with no event since the last one, would write that one again (a meter that did not move, nothing drawn).
 */
export function holdsFigures(live: ReadonlyMap<string, LiveRecord>, given: readonly EnergyFigure[]): boolean {
  return given.every((g) => {
    const rec = live.get(g.sessionId)?.rec;
    return rec?.deliveredKwh === g.deliveredKwh && rec.meteredKwh === (g.meteredKwh ?? null);
  });
}

/** A checkpoint row read back over the sessions replayed so far: each it names takes its figures. */
export function applyCheckpoint(r: EventRow, sessions: Iterable<LiveRecord>): void {
  const bySeq = new Map<number, LiveRecord>();
  for (const l of sessions) bySeq.set(l.startSeq, l);
  const take = (column: string | null, field: keyof EnergyChange) => {
    const pairs = JSON.parse(column ?? "[]") as number[];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const l = bySeq.get(pairs[i] as number);
      if (l) l.rec = { ...l.rec, [field]: pairs[i + 1] as number };
    }
  };
  take(r.energies, "deliveredKwh");
  // `metered` names every session with a reading (given or as last known): one it leaves out has none, even
  // if a start row carried forward before it (compaction) still says it had, as the journal's memory says.
  for (const l of bySeq.values()) if (l.rec.meteredKwh !== null) l.rec = { ...l.rec, meteredKwh: null };
  take(r.metered, "meteredKwh");
}

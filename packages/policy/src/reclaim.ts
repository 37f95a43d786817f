/**
 * Reclaiming power a vehicle does not draw. A battery near full (or a car limited on board) draws well
 * below what the fair share gives it; that power is lost to everyone else until the session ends. The
 * charger's meter tells the draw: while it stays well below the allocation for a whole window, the
 * session's effective maximum (its cap) is lowered to the draw plus a margin, and water-filling hands the
 * difference to the others. When the draw climbs back to the cap, the cap is lifted.
 */
export interface ReclaimSettings {
  /** How long the draw must stay low before power is taken back (ms). */
  windowMs: number;
  /** "Well below": the highest draw in the window is under this share of the allocation, (0, 1). */
  belowRatio: number;
  /** Head-room left above the draw (kW), so a small rise is not throttled at once. */
  marginKw: number;
}

export const DEFAULT_RECLAIM: ReclaimSettings = { windowMs: 60_000, belowRatio: 0.8, marginKw: 1 };

export interface DrawSample {
  atMs: number;
  drawKw: number;
}

export interface ReclaimState {
  minKw: number;
  maxKw: number;
  /** The cap in force (null: none). */
  capKw: number | null;
  /** What the session is given now. */
  allocatedKw: number;
}

/**
 * The cap a session should have now: a number sets it, `null` lifts it, `undefined` leaves it as it is.
 * `samples` are the charger's readings, oldest first; only those inside the window count, and the window
 * must be covered (a sample at or before its start) so one low reading never takes power away.
 */
export function reclaimCap(
  samples: readonly DrawSample[],
  nowMs: number,
  s: ReclaimState,
  cfg: ReclaimSettings = DEFAULT_RECLAIM,
): number | null | undefined {
  const last = samples.at(-1);
  if (!last) return undefined;
  // Drawing up to (nearly) the cap: the vehicle wants more, give it back its maximum.
  if (s.capKw !== null && last.drawKw >= s.capKw - cfg.marginKw / 2) return null;

  const since = nowMs - cfg.windowMs;
  // The draw is a step function of the readings: the one in force at the window's start counts too.
  let atStart: DrawSample | undefined;
  let peak = 0;
  for (const x of samples) {
    if (x.atMs <= since) atStart = x;
    else peak = Math.max(peak, x.drawKw);
  }
  if (!atStart) return undefined;
  peak = Math.max(peak, atStart.drawKw);
  const ceiling = s.capKw ?? s.maxKw;
  const target = Math.max(s.minKw, peak + cfg.marginKw);
  // Only when the draw is well below both what it is given and what it may take, and the cut is worth it.
  if (peak >= s.allocatedKw * cfg.belowRatio) return undefined;
  if (target >= ceiling - cfg.marginKw / 2) return undefined;
  return target;
}

/** Keeps only the samples a decision can still use: those inside the window and the last one before it. */
export function trimSamples(samples: DrawSample[], nowMs: number, windowMs: number): void {
  const since = nowMs - windowMs;
  let firstInside = samples.findIndex((x) => x.atMs > since);
  if (firstInside === -1) firstInside = samples.length;
  const drop = firstInside - 1; // keep one sample at or before the window's start
  if (drop > 0) samples.splice(0, drop);
}

/**
 * Adds a reading, keeping at most about `maxSamples` inside the window whatever the rate: one closer than
 * windowMs / maxSamples to the last is merged into it (the higher draw, at the earlier time). A merge only
 * raises the peak a decision sees, so a flood never takes more power than its readings would; readings
 * spaced at least that far apart (an honest meter) are kept as they are. Then trims as trimSamples.
 */
export function addSample(
  samples: DrawSample[],
  sample: DrawSample,
  windowMs: number,
  maxSamples: number,
): void {
  const last = samples.at(-1);
  if (last && sample.atMs - last.atMs < windowMs / maxSamples)
    last.drawKw = Math.max(last.drawKw, sample.drawKw);
  else samples.push(sample);
  trimSamples(samples, sample.atMs, windowMs);
}

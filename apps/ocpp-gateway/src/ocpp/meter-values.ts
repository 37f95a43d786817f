import type { MeterReading } from "../model.ts";

/** One sampled value with its number and unit resolved (1.6 sends strings, 2.0.1 numbers with a multiplier). */
export interface Sample {
  measurand: string | undefined;
  phase: string | undefined;
  value: number;
  unit: string | undefined;
}

const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";

/** A line of a three-phase supply ("L2", or "L2-N" measured against neutral): its number. */
const LINE = /^L([123])(-N)?$/;

/** A value in W or Wh from its unit (k: a thousand), or undefined for a unit it cannot be. */
function scaled(value: number, unit: string, base: "W" | "Wh"): number | undefined {
  if (unit === base) return value;
  return unit === `k${base}` ? value * 1000 : undefined;
}

/**
 * The newest energy register and power of a list of samples: totals, and for power without a total the sum
 * of its lines (a meter that reports power per phase only is still checked against its limit).
 */
export function readSamples(samples: Iterable<Sample>): MeterReading {
  const out: MeterReading = {};
  const lines = new Map<string, number>();
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    const measurand = s.measurand ?? ENERGY;
    const unit = s.unit ?? (measurand === POWER ? "W" : "Wh");
    const line = s.phase === undefined ? "total" : LINE.exec(s.phase)?.[1];
    if (line === undefined) continue;
    const energyWh = measurand === ENERGY && line === "total" ? scaled(s.value, unit, "Wh") : undefined;
    if (energyWh !== undefined) out.energyWh = energyWh;
    const powerW = measurand === POWER ? scaled(s.value, unit, "W") : undefined;
    if (powerW !== undefined && line === "total") out.powerW = powerW;
    else if (powerW !== undefined) lines.set(line, powerW);
  }
  if (out.powerW === undefined && lines.size > 0) out.powerW = [...lines.values()].reduce((a, b) => a + b, 0);
  return out;
}

/** What a charger is asked to sample while it charges (a comma-separated list in both versions). */
export const METER_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import";

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

/** The newest energy register and power of a list of samples (totals only: per-phase values skipped). */
export function readSamples(samples: Iterable<Sample>): MeterReading {
  const out: MeterReading = {};
  for (const s of samples) {
    if (s.phase !== undefined || !Number.isFinite(s.value)) continue;
    const measurand = s.measurand ?? ENERGY;
    const unit = s.unit ?? (measurand === POWER ? "W" : "Wh");
    if (measurand === ENERGY) {
      if (unit === "Wh") out.energyWh = s.value;
      else if (unit === "kWh") out.energyWh = s.value * 1000;
    } else if (measurand === POWER) {
      if (unit === "W") out.powerW = s.value;
      else if (unit === "kW") out.powerW = s.value * 1000;
    }
  }
  return out;
}

import type { RouterOutputs } from "@evgrid/charge-api";
import type { SubstationLoad } from "@evgrid/contract";

type GridStatus = RouterOutputs["gridStatus"];

export interface SubstationPeak {
  substationId: string;
  capacityKw: number;
  peakUtilization: number;
  peakActiveSessions: number;
  /** Samples in which allocated power or admitted minimums exceeded the capacity in force. */
  breaches: number;
}

export interface GridWatch {
  samples: number;
  substations: SubstationPeak[];
  /** Largest (max - min) across substations of demand / capacity, in any one sample. */
  maxLoadSpread: number;
  /** The same at the last sample. */
  finalLoadSpread: number;
  breaches: number;
}

const EPS = 1e-6;

export const loadRatio = (l: SubstationLoad) =>
  l.effectiveCapacityKw > 0 ? l.demandKw / l.effectiveCapacityKw : Number.POSITIVE_INFINITY;

export function spreadOf(loads: SubstationLoad[]): number {
  if (loads.length < 2) return 0;
  const ratios = loads.map(loadRatio);
  return Math.max(...ratios) - Math.min(...ratios);
}

export function isBreach(l: SubstationLoad): boolean {
  return l.allocatedKw > l.effectiveCapacityKw + EPS || l.committedMinKw > l.effectiveCapacityKw + EPS;
}

/**
 * Samples the grid while a run goes on (each substation's own load, as last reported to the balancer)
 * and keeps the figures a user judges balancing by: peaks, breaches and how evenly loaded the sites are.
 */
export class GridWatcher {
  private readonly peaks = new Map<string, SubstationPeak>();
  private samples = 0;
  private maxSpread = 0;
  private lastSpread = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  latest: SubstationLoad[] = [];

  constructor(
    private readonly read: () => Promise<SubstationLoad[]>,
    private readonly intervalMs: number,
  ) {}

  observe(loads: SubstationLoad[]): void {
    this.samples += 1;
    this.latest = loads;
    for (const l of loads) {
      const p = this.peaks.get(l.substationId) ?? {
        substationId: l.substationId,
        capacityKw: l.effectiveCapacityKw,
        peakUtilization: 0,
        peakActiveSessions: 0,
        breaches: 0,
      };
      p.peakUtilization = Math.max(p.peakUtilization, l.utilization);
      p.peakActiveSessions = Math.max(p.peakActiveSessions, l.activeSessions);
      if (isBreach(l)) p.breaches += 1;
      this.peaks.set(l.substationId, p);
    }
    this.lastSpread = spreadOf(loads);
    this.maxSpread = Math.max(this.maxSpread, this.lastSpread);
  }

  async sample(): Promise<void> {
    try {
      this.observe(await this.read());
    } catch {
      // A missed sample is not a result; the run's own outcomes say whether the grid answered.
    }
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.sample();
        await Bun.sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<GridWatch> {
    this.running = false;
    await this.loop;
    await this.sample();
    const substations = [...this.peaks.values()].sort((a, b) => a.substationId.localeCompare(b.substationId));
    return {
      samples: this.samples,
      substations,
      maxLoadSpread: this.maxSpread,
      finalLoadSpread: this.lastSpread,
      breaches: substations.reduce((acc, s) => acc + s.breaches, 0),
    };
  }
}

/** Reads loads through the public API (gridStatus: the balancer's latest view of each substation). */
export const viaGridStatus = (gridStatus: () => Promise<GridStatus>) => async () =>
  (await gridStatus()).substations.flatMap((s) => (s.healthy && s.load ? [s.load] : []));

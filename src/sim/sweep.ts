import { resolveConfig, type SimulationConfig } from './config.js';
import type { SimulationResult } from './results.js';
import { type RunOptions, runSimulation } from './simulation.js';

/** Parameters a sweep can vary. */
export type SweepParameter = 'coverage';

export const SWEEP_PARAMETERS: readonly SweepParameter[] = ['coverage'];

/** Coverage from 0.1 to 1.0 in steps of 0.1: the seed's central claim, tested across the range. */
export const DEFAULT_COVERAGE_VALUES: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export interface SweepResult {
  parameter: SweepParameter;
  /** The configuration every run shares (but for the swept parameter). */
  base: SimulationConfig;
  runs: SimulationResult[];
  elapsedMs: number;
}

export interface SweepOptions extends Omit<RunOptions, 'onProgress'> {
  values?: readonly number[];
  /** Called before each run. */
  onRun?: (index: number, total: number, value: number) => void;
  onProgress?: RunOptions['onProgress'];
}

/**
 * Runs the simulation once per value of `parameter`, with the same seed, so
 * the topology, the roles' order and each node's draws are the same in every
 * run: followers at a higher coverage include those at a lower one.
 *
 * @example
 * const sweep = await runSweep('coverage', { nodes: 10_000 });
 * sweep.runs.map((run) => [run.summary.coverage, run.summary.reach]);
 */
export async function runSweep(
  parameter: SweepParameter,
  overrides: Partial<SimulationConfig> = {},
  options: SweepOptions = {},
): Promise<SweepResult> {
  const started = performance.now();
  const base = resolveConfig(overrides);
  const values = options.values ?? DEFAULT_COVERAGE_VALUES;
  const runs: SimulationResult[] = [];
  for (const [index, value] of values.entries()) {
    options.signal?.throwIfAborted();
    options.onRun?.(index, values.length, value);
    runs.push(await runSimulation({ ...base, [parameter]: value }, options));
  }
  return { parameter, base, runs, elapsedMs: performance.now() - started };
}

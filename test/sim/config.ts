import { expect } from 'chai';
import {
  DEFAULT_SIMULATION_CONFIG,
  InvalidSimulationConfigError,
  priorityOf,
  resolveConfig,
  type SimulationConfig,
} from '../../src/sim/config.js';

describe('sim: configuration', () => {
  it('fills in the defaults: the node and server defaults where they exist', () => {
    const config = resolveConfig({ nodes: 500, coverage: undefined });
    expect(config.nodes).to.equal(500);
    expect(config.coverage).to.equal(DEFAULT_SIMULATION_CONFIG.coverage);
    expect(config.intervalMs).to.equal(60_000);
    expect(config.pollIntervalMs).to.equal(30_000);
    expect(config.inferenceIntervalMs).to.equal(10_000);
    expect(config.delayMs).to.equal(2_000);
  });

  it('gives each server its priority, repeating the list, and high to both camps of a split', () => {
    const config = resolveConfig({ servers: 3, priorities: ['high', 'low'] });
    expect([0, 1, 2].map((i) => priorityOf(config, i))).to.deep.equal(['high', 'low', 'high']);
    const split = resolveConfig({ split: true, servers: 2, priorities: ['low'] });
    expect([0, 1].map((i) => priorityOf(split, i))).to.deep.equal(['high', 'high']);
  });

  for (const [what, overrides, message] of [
    ['a share above 1', { coverage: 1.5 }, /coverage must be a share/],
    ['a negative share', { liars: -0.1 }, /liars must be a share/],
    ['a fractional node count', { nodes: 100.5 }, /nodes must be an integer/],
    ['too few nodes', { nodes: 5 }, /nodes must be an integer from 10/],
    ['a degree as large as the network', { nodes: 20, degree: 20 }, /degree must be an integer from 1 to 19/],
    ['an impossible regular graph', { nodes: 101, degree: 3 }, /make nodes × degree even/],
    ['an unknown topology', { topology: 'ring' as never }, /topology must be/],
    ['an unknown priority', { priorities: ['urgent' as never] }, /priorities must be/],
    ['no priority at all', { priorities: [] }, /priorities must be/],
    ['a split of three servers', { split: true, servers: 3 }, /exactly two servers/],
    ['unverified lies through the real intake', { verify: 'all' as const, verifyLies: false }, /verifyLies/],
    ['a report interval under a second', { intervalMs: 10 }, /intervalMs must be at least 1000/],
    ['latencies the wrong way round', { fetchLatencyMs: [5, 1] as [number, number] }, /fetchLatencyMs/],
    ['a list time that is not a number', { listAtMs: Number.NaN }, /listAtMs/],
  ] as [string, Partial<SimulationConfig>, RegExp][]) {
    it(`refuses ${what} with a clear error`, () => {
      expect(() => resolveConfig(overrides)).to.throw(InvalidSimulationConfigError, message);
    });
  }
});

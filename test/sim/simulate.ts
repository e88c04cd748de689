import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { main } from '../../scripts/simulate.js';
import { removeDir } from '../helpers/dirs.js';

/** Runs `npm run simulate -- …` in this process; stdout and stderr as lines. */
async function simulate(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(args, { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) });
  return { code, stdout, stderr };
}

describe('sim: npm run simulate', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-simulate-'));
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it('runs, reports progress on stderr, writes the report and prints one JSON line last', async () => {
    const { code, stdout, stderr } = await simulate([
      ...['--nodes', '200', '--coverage', '0.8', '--malicious', '0.02', '--liars', '0.05'],
      ...['--rounds', '2', '--interval', '2m', '--seed', '9', '--out', dir],
    ]);
    expect(code).to.equal(0);
    expect(stdout).to.have.length(1);
    const line = JSON.parse(stdout[0]);
    expect(Object.keys(line).slice(0, 5)).to.deep.equal([
      'nodes',
      'coverage',
      'reach',
      'roundsToIsolate',
      'falsePositiveRate',
    ]);
    expect(line.nodes).to.equal(200);
    expect(line.coverage).to.equal(0.8);
    expect(line.report).to.equal(join(dir, 'run-n200-c0.8-seed9', 'report.md'));
    expect(existsSync(line.report)).to.equal(true);
    expect(stderr.filter((l) => l.startsWith('[sim] n=200 c=0.8 interval '))).to.have.length(3);
    const result = JSON.parse(await readFile(join(dir, 'run-n200-c0.8-seed9', 'result.json'), 'utf8'));
    expect(result.config.intervalMs).to.equal(120_000);
    expect(result.config.seed).to.equal(9);
    expect(result.summary).to.deep.equal({
      nodes: line.nodes,
      coverage: line.coverage,
      reach: line.reach,
      roundsToIsolate: line.roundsToIsolate,
      falsePositiveRate: line.falsePositiveRate,
    });
  });

  it('sweeps coverage from 0.1 to 1', async () => {
    const { code, stdout } = await simulate(['--sweep', 'coverage', '--nodes', '100', '--rounds', '2', '--out', dir]);
    expect(code).to.equal(0);
    const line = JSON.parse(stdout[stdout.length - 1]);
    expect(line.sweep).to.equal('coverage');
    expect(line.points.map((p: { coverage: number }) => p.coverage)).to.deep.equal([
      0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
    ]);
    expect(existsSync(join(dir, 'sweep-coverage-n100-seed1', 'coverage.svg'))).to.equal(true);
  });

  it('takes the split, the priorities, the topology and durations with units', async () => {
    const { code, stdout } = await simulate([
      ...['--split', '--nodes', '200', '--rounds', '2', '--topology', 'scale-free', '--degree', '6'],
      ...['--list-at', '-30m', '--sync-lag', '500ms', '--out', dir],
    ]);
    expect(code).to.equal(0);
    const line = JSON.parse(stdout[0]);
    expect(line.crossCampEdgesBefore).to.be.greaterThan(0);
    // The line explains its own false positives: the other camp's server rated them black.
    expect(line.falsePositiveRate).to.be.greaterThan(0.5);
    expect(line.ratedBlackByOtherCamp).to.equal(line.falsePositiveRate);
    const result = JSON.parse(await readFile(join(dir, 'run-n200-c0.9-split-scale-free-seed1', 'result.json'), 'utf8'));
    expect(result.config).to.include({ split: true, servers: 2, listAtMs: -1_800_000, syncLagMs: 500, degree: 6 });
  });

  for (const [what, args, message] of [
    ['a share out of range', ['--coverage', '2'], /"2" is not a share from 0 to 1/],
    ['a bad priority', ['--priorities', 'high,urgent'], /not a list of high and low/],
    ['a bad duration', ['--interval', 'soon'], /"soon" is not a duration/],
    ['an unknown topology', ['--topology', 'ring'], /Allowed choices are random-regular, scale-free/],
    ['an impossible graph', ['--nodes', '101', '--degree', '3'], /simulate: .*make nodes × degree even/],
    ['an unknown option', ['--colour', 'red'], /unknown option '--colour'/],
  ] as const) {
    it(`refuses ${what} with one clear line and exit code 1`, async () => {
      const { code, stdout, stderr } = await simulate([...args, '--out', dir]);
      expect(code).to.equal(1);
      expect(stdout).to.deep.equal([]);
      expect(stderr.join('\n')).to.match(message);
    });
  }
});

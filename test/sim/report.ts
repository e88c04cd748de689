import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { resolveConfig } from '../../src/sim/config.js';
import { reportName, writeRunReport, writeSweepReport } from '../../src/sim/report.js';
import { runSimulation } from '../../src/sim/simulation.js';
import { runSweep } from '../../src/sim/sweep.js';
import { removeDir } from '../helpers/dirs.js';

describe('sim: reports', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-sim-report-'));
  });

  afterEach(async () => {
    await removeDir(dir);
  });

  it('writes a run as Markdown with its chart and the full result as JSON', async () => {
    const result = await runSimulation({ nodes: 200, malicious: 0.02, rounds: 3, seed: 2 });
    const path = await writeRunReport(result, dir, 'npm run simulate -- --nodes 200');
    expect(path).to.equal(join(dir, 'report.md'));
    const markdown = await readFile(path, 'utf8');
    expect(markdown).to.match(/^# Network simulation: 200 nodes, coverage 0\.9/);
    expect(markdown).to.include('`npm run simulate -- --nodes 200`');
    expect(markdown).to.include('![Reach, black ratings and isolated origins by report interval](timeline.svg)');
    const reach = `${Math.round((result.summary.reach ?? 0) * 1000) / 10}%`;
    expect(markdown).to.include(`| reach of the listed content | ${reach} |`);
    expect(markdown).to.include(`| report intervals to isolate every origin | ${result.summary.roundsToIsolate} |`);
    expect(markdown).to.include('## Model').and.include('## Parameters');
    const svg = await readFile(join(dir, 'timeline.svg'), 'utf8');
    expect(svg).to.include('<polyline').and.include('reach of the listed content');
    const json = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8'));
    expect(json.summary).to.deep.equal(result.summary);
    expect(json.timeline).to.have.length(4);
  });

  it('sweeps coverage with one seed: more followers, less reach and fewer strangers', async () => {
    const sweep = await runSweep(
      'coverage',
      { nodes: 200, malicious: 0.02, liars: 0, rounds: 3, seed: 4 },
      { values: [0, 0.5, 1] },
    );
    const [none, half, all] = sweep.runs;
    expect(sweep.runs.map((r) => r.config.coverage)).to.deep.equal([0, 0.5, 1]);
    expect(none.summary.reach).to.be.greaterThan(0.9);
    expect(half.summary.reach).to.be.lessThan(none.summary.reach as number);
    expect(all.summary.reach).to.equal(0);
    expect(none.strangers.count).to.be.greaterThan(half.strangers.count);
    expect(all.strangers.count).to.equal(0);
    // The same seed, so the same topology and the same malicious nodes in every run.
    expect(half.isolation.list.map((o) => o.peerId)).to.deep.equal(all.isolation.list.map((o) => o.peerId));
    expect(half.network.edgesBefore).to.equal(all.network.edgesBefore);

    const path = await writeSweepReport(sweep, dir, 'npm run simulate -- --sweep coverage');
    const markdown = await readFile(path, 'utf8');
    expect(markdown).to.include('# Coverage sweep: 200 nodes');
    expect(markdown.match(/^\| (0|0\.5|1) \|/gm)).to.have.length(3);
    const svg = await readFile(join(dir, 'coverage.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).to.have.length(4);
    expect(svg).to.include('false-positive rate');
  });

  it('names reports by what they vary', () => {
    expect(reportName(resolveConfig({ nodes: 10_000, coverage: 0.9, seed: 1 }))).to.equal('run-n10000-c0.9-seed1');
    expect(reportName(resolveConfig({ nodes: 500, seed: 2 }), 'coverage')).to.equal('sweep-coverage-n500-seed2');
    expect(reportName(resolveConfig({ nodes: 500, split: true, servers: 2 }))).to.equal('run-n500-c0.9-split-seed1');
    expect(reportName(resolveConfig({ nodes: 500, servers: 2, priorities: ['high', 'low'], evasive: true }))).to.equal(
      'run-n500-c0.9-s2-high-low-evasive-seed1',
    );
  });
});

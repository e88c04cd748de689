import { expect } from 'chai';
import type { SimulationConfig } from '../../src/sim/config.js';
import type { SimulationResult } from '../../src/sim/results.js';
import { runSimulation, type SimulationProgress } from '../../src/sim/simulation.js';

/** A small network, a few malicious origins, no liars unless asked: seconds per run. */
function run(overrides: Partial<SimulationConfig> = {}): Promise<SimulationResult> {
  return runSimulation({ nodes: 300, malicious: 0.01, liars: 0, rounds: 4, seed: 11, ...overrides });
}

describe('sim: simulation', function () {
  this.timeout(120_000);

  it('coverage 1: every origin is isolated within two report intervals, and the listed content reaches nobody', async () => {
    const result = await run({ coverage: 1 });
    expect(result.summary.reach).to.equal(0);
    expect(result.summary.roundsToIsolate).to.be.a('number').and.at.most(2);
    expect(result.isolation.isolated).to.equal(result.isolation.origins).and.equal(3);
    for (const origin of result.isolation.list) {
      expect(origin.highNeighboursAtStart).to.be.greaterThan(0);
      expect(origin.disconnections).to.be.at.least(origin.highNeighboursAtStart);
    }
    expect(result.summary.falsePositiveRate).to.equal(0);
    expect(result.servers[0].stats.ratings.black).to.equal(3);
    for (const origin of result.isolation.list) expect(origin.ratedBlackBy).to.deep.equal([0]);
  });

  it('coverage 0: nobody refuses, the content reaches nearly every node, nobody is rated or cut off', async () => {
    const result = await run({ coverage: 0 });
    expect(result.summary.reach).to.be.greaterThan(0.95);
    expect(result.summary.falsePositiveRate).to.equal(null);
    expect(result.servers[0].stats.ratings).to.deep.equal({ white: 0, gray: 0, black: 0 });
    expect(result.servers[0].stats.reportsAccepted).to.equal(0);
    expect(result.network.edgesCut).to.equal(0);
  });

  it('coverage 0.9: strangers that relay listed content are rated black and cut off; complying nodes are not', async () => {
    const result = await run({ coverage: 0.9, rounds: 6 });
    const { strangers } = result;
    expect(strangers.count).to.be.greaterThan(10);
    expect(strangers.ratedBlack).to.be.greaterThan(0);
    expect(strangers.cutOff).to.be.greaterThan(0).and.at.most(strangers.ratedBlack);
    // Only strangers relay: the reach is bounded by their share.
    expect(result.summary.reach)
      .to.be.greaterThan(0)
      .and.at.most(strangers.count / (300 - 3));
    expect(result.summary.falsePositiveRate).to.equal(0);
    expect(result.summary.roundsToIsolate).to.be.a('number').and.at.most(3);
  });

  it('lying reporters: every made-up report is refused and causes no false positive; unverified, it would', async () => {
    const verified = await run({ liars: 0.1 });
    expect(verified.population.liars).to.equal(30);
    expect(verified.liars.liesRejected).to.be.greaterThan(100);
    expect(verified.liars.liesAccepted).to.equal(0);
    const rejected = verified.servers[0].stats.reportsRejected;
    expect(rejected['bad-evidence']).to.be.greaterThan(0);
    expect(rejected['bad-edge']).to.be.greaterThan(0);
    expect(verified.summary.falsePositiveRate).to.equal(0);

    // The same lies fed to the inference without the server's checks.
    const unverified = await run({ liars: 0.1, verifyLies: false });
    expect(unverified.liars.liesAccepted).to.equal(verified.liars.liesRejected);
    expect(unverified.summary.falsePositiveRate).to.be.greaterThan(0.1);
  });

  it('a low-priority server only delays: its black verdicts disconnect nobody', async () => {
    const result = await run({ priorities: ['low'] });
    expect(result.population.highFollowers).to.equal(0);
    expect(result.servers[0].stats.ratings.black).to.be.at.least(3);
    expect(result.network.edgesCut).to.equal(0);
    for (const origin of result.isolation.list) expect(origin.disconnections).to.equal(0);
  });

  it('two servers at high and low priority: only high-priority followers cut the origins off', async () => {
    const result = await run({ servers: 2, priorities: ['high', 'low'], coverage: 0.6 });
    expect(result.servers.map((s) => s.priority)).to.deep.equal(['high', 'low']);
    for (const server of result.servers) expect(server.stats.ratings.black).to.be.at.least(3);
    expect(result.summary.roundsToIsolate).to.be.a('number').and.at.most(3);
    // Followers of the low-priority server alone keep their connections with the origins.
    const lowOnly = result.population.followers - result.population.highFollowers;
    expect(lowOnly).to.be.greaterThan(0);
    const kept = result.isolation.list.reduce((k, o) => k + o.highNeighboursAtStart - o.disconnections, 0);
    expect(kept).to.be.at.most(0);
  });

  it('evasive origins, which never countersign an edge, are never rated: sightings of them do not count', async () => {
    const result = await run({ evasive: true });
    expect(result.servers[0].stats.sightingsIgnored).to.be.greaterThan(0);
    for (const origin of result.isolation.list) {
      expect(origin.ratedBlackBy).to.deep.equal([]);
      expect(origin.disconnections).to.equal(0);
    }
    expect(result.isolation.isolated).to.equal(0);
    expect(result.summary.roundsToIsolate).to.equal(null);
  });

  it('the grace: nodes that relayed before the listing reached them are rated gray, not black', async () => {
    // The version takes effect as the content starts to spread, and reaches followers over two minutes.
    const result = await run({ listAtMs: 0, syncLagMs: 120_000, rounds: 6 });
    expect(result.falsePositives.ratedGray).to.be.greaterThan(10);
    expect(result.summary.falsePositiveRate).to.equal(0);
  });

  it('the split: two camps cut the connections between them, and each item stays in the camp that allows it', async () => {
    const result = await run({ nodes: 400, split: true, servers: 2, malicious: 0, rounds: 5 });
    const partition = result.partition;
    if (!partition) throw new Error('no partition measured');
    expect(partition.crossCampEdgesBefore).to.be.greaterThan(400);
    expect(partition.crossCampEdgesAfter).to.be.at.most(partition.crossCampEdgesBefore * 0.02);
    expect(partition.mixedComponentShare).to.be.at.most(0.02);
    const [a, b] = result.items;
    expect(a.label).to.equal('disputed-a');
    expect(a.listedBy).to.deep.equal([0]);
    expect(a.reachByCamp?.[0]).to.equal(0);
    expect(a.reachByCamp?.[1]).to.be.greaterThan(0.9);
    expect(b.reachByCamp?.[0]).to.be.greaterThan(0.9);
    expect(b.reachByCamp?.[1]).to.equal(0);
    expect(partition.ratedBlackByOtherCamp).to.be.greaterThan(0.5);
    expect(result.falsePositives.ratedBlackByFollowedServer).to.equal(0);
    expect(result.summary.reach).to.equal(null);
    expect(result.summary.roundsToIsolate).to.equal(null);
  });

  it('a scale-free network: hubs get more redials, origins are still isolated and reach stays low', async () => {
    const result = await run({ topology: 'scale-free', coverage: 0.9 });
    expect(result.summary.roundsToIsolate).to.be.a('number').and.at.most(3);
    expect(result.summary.reach).to.be.at.most(0.15);
    expect(result.summary.falsePositiveRate).to.equal(0);
  });

  it('measures as defined: reach over non-malicious nodes, false positives over complying ones', async () => {
    const result = await run({ liars: 0.05, listAtMs: 20_000, rounds: 3 });
    const { population, items, falsePositives } = result;
    expect(population.complying).to.equal(population.followers - population.liars - population.seeders);
    expect(falsePositives.complying).to.equal(population.complying);
    expect(items[0].reach).to.equal(items[0].holders / (population.nodes - population.malicious));
    expect(result.summary.reach).to.equal(items[0].reach);
    // Followers that had the content before their list arrived purged it: only strangers hold it.
    expect(items[0].holders).to.equal(result.strangers.holding);
    expect(result.timeline.map((t) => t.round)).to.deep.equal([0, 1, 2, 3]);
  });

  it('is deterministic for a seed, and another seed gives another run', async () => {
    const progress: SimulationProgress[] = [];
    const first = await runSimulation(
      { nodes: 200, malicious: 0.02, liars: 0.05, rounds: 3, seed: 5 },
      { onProgress: (p) => progress.push(p) },
    );
    const second = await runSimulation({ nodes: 200, malicious: 0.02, liars: 0.05, rounds: 3, seed: 5 });
    const comparable = (r: SimulationResult) => ({
      ...r,
      run: undefined,
      servers: r.servers.map((s) => ({ ...s, stats: { ...s.stats, inferenceMs: 0 } })),
    });
    expect(comparable(second)).to.deep.equal(comparable(first));
    expect(progress.map((p) => p.round)).to.deep.equal([0, 1, 2, 3]);
    const other = await runSimulation({ nodes: 200, malicious: 0.02, liars: 0.05, rounds: 3, seed: 6 });
    expect(other.isolation.list.map((o) => o.peerId)).to.not.deep.equal(first.isolation.list.map((o) => o.peerId));
  });

  it('every message really signed and taken by the real intake, store and issuer: the same measurements', async () => {
    const config = { nodes: 120, malicious: 0.02, liars: 0.05, rounds: 3, seed: 3 };
    const fast = await runSimulation({ ...config, verify: 'liars' });
    const real = await runSimulation({ ...config, verify: 'all' });
    expect(real.run.signatures).to.be.greaterThan(fast.run.signatures * 10);
    expect(real.summary).to.deep.equal(fast.summary);
    expect(real.strangers).to.deep.equal(fast.strangers);
    expect(real.isolation.list).to.deep.equal(fast.isolation.list);
    expect(real.liars).to.deep.equal(fast.liars);
    expect(real.servers[0].stats.ratings).to.deep.equal(fast.servers[0].stats.ratings);
    expect(real.servers[0].stats.reportsAccepted).to.equal(fast.servers[0].stats.reportsAccepted);
  });

  it('stops when aborted', async () => {
    const error = await runSimulation({ nodes: 100 }, { signal: AbortSignal.abort() }).catch((e: Error) => e);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).name).to.equal('AbortError');
  });
});

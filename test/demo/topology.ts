import { expect } from 'chai';
import {
  type DemoTopology,
  dialsOf,
  drawTopology,
  MIN_NODES,
  neighboursOf,
  seededRandom,
  TopologyError,
} from '../../src/demo/topology.js';

/** Whether the nodes in `members` are connected using only edges between members. */
function connectedWithin(topology: DemoTopology, members: number[]): boolean {
  if (members.length === 0) return true;
  const inside = new Set(members);
  const seen = new Set([members[0]]);
  const queue = [members[0]];
  while (queue.length > 0) {
    const node = queue.shift() as number;
    for (const other of neighboursOf(topology, node)) {
      if (inside.has(other) && !seen.has(other)) {
        seen.add(other);
        queue.push(other);
      }
    }
  }
  return seen.size === inside.size;
}

describe('demo topology', () => {
  it('is the same for the same seed and size, and differs for another seed', () => {
    expect(drawTopology(12, 7)).to.deep.equal(drawTopology(12, 7));
    expect(drawTopology(12, 7).edges).to.not.deep.equal(drawTopology(12, 8).edges);
    const a = seededRandom(1);
    const b = seededRandom(1);
    expect([a(), a(), a()]).to.deep.equal([b(), b(), b()]);
  });

  for (const size of [MIN_NODES, 8, 12, 20, 40]) {
    for (const seed of [0, 1, 2, 3, 99]) {
      it(`holds every property the story needs (${size} nodes, seed ${seed})`, () => {
        const topology = drawTopology(size, seed);
        const { nodes, distributor } = topology;
        expect(nodes).to.have.length(size);
        expect(distributor).to.equal(size - 1);
        expect(nodes[distributor].group).to.equal('distributor');
        const honest = nodes.filter((n) => n.group !== 'distributor').map((n) => n.index);
        // Honest nodes reach one another without the distributor, so clean files reach everyone.
        expect(connectedWithin(topology, honest), 'honest graph connected').to.equal(true);
        // Both penalties show: the distributor has neighbours of both groups.
        const groups = neighboursOf(topology, distributor).map((i) => nodes[i].group);
        expect(groups.filter((g) => g === 'both')).to.have.length.of.at.least(2);
        expect(groups).to.include('low-only');
        // The fork is a connected group of at least two, and leaves nodes behind to refuse.
        const fork = nodes.filter((n) => n.fork).map((n) => n.index);
        expect(fork.length).to.be.at.least(2);
        expect(fork.length).to.be.at.most(honest.length - 2);
        expect(fork).to.not.include(distributor);
        expect(connectedWithin(topology, fork), 'fork group connected').to.equal(true);
        // Every link is dialed by exactly one end, once the other is up: no two neighbours share a wave.
        for (const [a, b] of topology.edges) {
          expect(a).to.be.below(b);
          expect(nodes[a].wave, `${a}–${b}`).to.not.equal(nodes[b].wave);
          const dialers = [dialsOf(topology, a).includes(b), dialsOf(topology, b).includes(a)];
          expect(dialers.filter(Boolean)).to.have.length(1);
        }
        expect(nodes[distributor].wave).to.equal(Math.max(...nodes.map((n) => n.wave)));
        expect(new Set(topology.edges.map(([a, b]) => `${a}-${b}`)).size).to.equal(topology.edges.length);
      });
    }
  }

  it('refuses a network too small for the story', () => {
    expect(() => drawTopology(MIN_NODES - 1, 1)).to.throw(TopologyError, /at least 6 nodes/);
    expect(() => drawTopology(7.5, 1)).to.throw(TopologyError);
  });
});

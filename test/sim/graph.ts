import { expect } from 'chai';
import {
  buildGraph,
  connectedComponents,
  Graph,
  InvalidGraphError,
  randomRegularGraph,
  scaleFreeGraph,
} from '../../src/sim/graph.js';
import { Random } from '../../src/sim/random.js';

describe('sim: graphs', () => {
  it('wires a random regular graph: every node has exactly the degree, no self-loops, no double edges', () => {
    const graph = randomRegularGraph(1_000, 8, new Random(7));
    expect(graph.edgeCount).to.equal(4_000);
    for (let v = 0; v < graph.size; v++) {
      expect(graph.degree(v)).to.equal(8);
      expect(graph.has(v, v)).to.equal(false);
    }
    const seen = new Set<string>();
    for (const [a, b] of graph.edges()) {
      expect(a).to.be.lessThan(b);
      expect(seen.has(`${a}-${b}`)).to.equal(false);
      seen.add(`${a}-${b}`);
    }
    expect(seen.size).to.equal(4_000);
  });

  it('wires a scale-free graph with the mean degree asked for and hubs far above it', () => {
    const graph = scaleFreeGraph(2_000, 8, new Random(7));
    const degrees = Array.from({ length: graph.size }, (_, v) => graph.degree(v));
    const mean = degrees.reduce((x, y) => x + y, 0) / degrees.length;
    expect(mean).to.be.within(7.5, 8.1);
    expect(Math.max(...degrees)).to.be.greaterThan(8 * mean);
    expect(Math.min(...degrees)).to.be.at.least(4);
    expect(connectedComponents(graph).sizes).to.deep.equal([2_000]);
  });

  it('gives the same graph for the same seed, and another for another seed', () => {
    const edges = (seed: number) => [...randomRegularGraph(200, 6, new Random(seed)).edges()].join(' ');
    expect(edges(3)).to.equal(edges(3));
    expect(edges(3)).to.not.equal(edges(4));
    expect([...buildGraph('scale-free', 100, 4, new Random(1)).edges()]).to.deep.equal([
      ...scaleFreeGraph(100, 4, new Random(1)).edges(),
    ]);
  });

  it('refuses impossible graphs and unknown models by name', () => {
    expect(() => randomRegularGraph(11, 3, new Random(1))).to.throw(InvalidGraphError, /even/);
    expect(() => randomRegularGraph(10, 10, new Random(1))).to.throw(InvalidGraphError);
    expect(() => scaleFreeGraph(3, 8, new Random(1))).to.throw(InvalidGraphError);
    expect(() => buildGraph('ring' as never, 10, 2, new Random(1))).to.throw(InvalidGraphError, /Unknown topology/);
  });

  it('adds and removes edges, and finds connected components of the nodes asked for', () => {
    const graph = new Graph(6);
    expect(graph.add(0, 1)).to.equal(true);
    expect(graph.add(1, 0)).to.equal(false);
    expect(graph.add(2, 2)).to.equal(false);
    graph.add(1, 2);
    graph.add(3, 4);
    expect(connectedComponents(graph).sizes).to.deep.equal([3, 2, 1]);
    expect(graph.remove(1, 2)).to.equal(true);
    expect(graph.remove(1, 2)).to.equal(false);
    const { component, sizes } = connectedComponents(graph, (v) => v !== 4);
    expect(sizes).to.deep.equal([2, 1, 1, 1]);
    expect(component[4]).to.equal(-1);
    expect(graph.edgeCount).to.equal(2);
  });
});

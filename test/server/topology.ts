import { expect } from 'chai';
import { InvalidTopologyInputError, TopologyMap } from '../../src/server/topology.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = 1_750_000_000_000;

describe('server: topology map', () => {
  const options = { edgeMaxAgeMs: HOUR, edgeRetentionMs: 24 * HOUR, reporterMaxAgeMs: HOUR };

  it('records an edge once, in canonical order, with the span of its attestations', () => {
    const map = new TopologyMap(options);
    expect(map.addEdge('B', 'A', T0)).to.equal(true);
    expect(map.addEdge('A', 'B', T0 + 10 * MINUTE)).to.equal(false);
    expect(map.addEdge('B', 'A', T0 - MINUTE)).to.equal(false);
    expect(map.edgeCount).to.equal(1);
    expect(map.edge('B', 'A')).to.deep.equal({ a: 'A', b: 'B', firstSeen: T0 - MINUTE, lastSeen: T0 + 10 * MINUTE });
    expect(map.edges()).to.deep.equal([{ a: 'A', b: 'B', firstSeen: T0 - MINUTE, lastSeen: T0 + 10 * MINUTE }]);
    expect(
      map.addEdges([
        { a: 'B', b: 'C', time: T0 },
        { a: 'A', b: 'B', time: T0 },
      ]),
    ).to.equal(1);
  });

  it('refuses self-loops, empty peers and times that are not numbers', () => {
    const map = new TopologyMap(options);
    expect(() => map.addEdge('A', 'A', T0)).to.throw(InvalidTopologyInputError);
    expect(() => map.addEdge('', 'A', T0)).to.throw(InvalidTopologyInputError);
    expect(() => map.addEdge('A', 'B', Number.NaN)).to.throw(InvalidTopologyInputError);
    expect(() => map.addReport('A', Number.POSITIVE_INFINITY)).to.throw(InvalidTopologyInputError);
    expect(() => new TopologyMap({ edgeMaxAgeMs: -1 })).to.throw(InvalidTopologyInputError);
  });

  it('answers neighbours and degree from current edges only', () => {
    const map = new TopologyMap(options);
    map.addEdge('A', 'C', T0);
    map.addEdge('A', 'B', T0 + 2 * HOUR);
    map.addEdge('D', 'A', T0 + 2 * HOUR);
    const now = T0 + 2 * HOUR + MINUTE;
    expect(map.neighbours('A', now)).to.deep.equal(['B', 'D']);
    expect(map.degree('A', now)).to.equal(2);
    expect(map.degree('C', now)).to.equal(0);
    expect(map.isLive('A', 'C', now)).to.equal(false);
    expect(map.isLive('B', 'A', now)).to.equal(true);
    // Not current, but remembered: evidence over it still counts.
    expect(map.edge('A', 'C')).to.not.equal(undefined);
    expect(map.neighbours('nobody', now)).to.deep.equal([]);
  });

  it('says whether two peers were connected around a time: the span widened by edgeMaxAgeMs', () => {
    const map = new TopologyMap(options);
    map.addEdge('A', 'B', T0);
    map.addEdge('A', 'B', T0 + 3 * HOUR);
    expect(map.connectedAt('A', 'B', T0 - HOUR)).to.equal(true);
    expect(map.connectedAt('B', 'A', T0 + 2 * HOUR)).to.equal(true);
    expect(map.connectedAt('A', 'B', T0 + 4 * HOUR)).to.equal(true);
    expect(map.connectedAt('A', 'B', T0 - HOUR - 1)).to.equal(false);
    expect(map.connectedAt('A', 'B', T0 + 4 * HOUR + 1)).to.equal(false);
    expect(map.connectedAt('A', 'C', T0)).to.equal(false);
  });

  it('lists connected peers (they report) and unconnected ones (seen only through edges)', () => {
    const map = new TopologyMap(options);
    map.addEdge('A', 'B', T0);
    map.addEdge('B', 'C', T0);
    map.addEdge('C', 'D', T0 - 3 * HOUR); // no longer current: D is not listed
    map.addReport('B', T0);
    map.addReport('C', T0 - 2 * HOUR); // too long ago: unconnected now
    map.addReport('C', T0 - 3 * HOUR); // older: ignored
    map.addReport('E', T0); // reports, with no edge yet
    const now = T0 + MINUTE;
    expect(map.connected(now)).to.deep.equal([
      { peer: 'B', lastReport: T0 },
      { peer: 'E', lastReport: T0 },
    ]);
    expect(map.isConnected('C', now)).to.equal(false);
    expect(map.lastReport('C')).to.equal(T0 - 2 * HOUR);
    expect(map.unconnected(now)).to.deep.equal(['A', 'C']);
    expect(map.peerCount).to.equal(5);
  });

  it('forgets edges past retention and reporters past their age', () => {
    const map = new TopologyMap(options);
    map.addEdge('A', 'B', T0);
    map.addEdge('B', 'C', T0 + 20 * HOUR);
    map.addReport('A', T0);
    map.addReport('C', T0 + 20 * HOUR);
    expect(map.expire(T0 + 20 * HOUR)).to.deep.equal({ edges: 0, reporters: 1 });
    expect(map.expire(T0 + 24 * HOUR + 1)).to.deep.equal({ edges: 1, reporters: 1 });
    expect(map.edgeCount).to.equal(1);
    expect(map.edge('A', 'B')).to.equal(undefined);
    expect(map.edges()).to.deep.equal([{ a: 'B', b: 'C', firstSeen: T0 + 20 * HOUR, lastSeen: T0 + 20 * HOUR }]);
    expect(map.peerCount).to.equal(2);
  });

  it('keeps edges at least as long as they are current', () => {
    const map = new TopologyMap({ edgeMaxAgeMs: 2 * HOUR, edgeRetentionMs: HOUR });
    expect(map.edgeRetentionMs).to.equal(2 * HOUR);
  });
});

import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import {
  DEFAULT_GRACE_MS,
  HintIndex,
  type InferenceOptions,
  type InferredVerdict,
  inferVerdicts,
  type SightingRecord,
  toProtocolVerdict,
  topologyHints,
} from '../../src/server/inference.js';
import { TopologyMap } from '../../src/server/topology.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** When the list version listing the entries took effect. */
const EFFECTIVE = 1_750_000_000_000;
/** Well after the version took effect and its grace. */
const AFTER = EFFECTIVE + HOUR;
const ENTRY = '0xe1';

/** A map where every pair in `edges` is attested at `time`, and every peer in `reporters` reported at `reportAt`. */
function mapOf(
  edges: [string, string][],
  reporters: string[],
  time: number,
  reportAt = time + 10 * MINUTE,
): TopologyMap {
  const map = new TopologyMap();
  for (const [a, b] of edges) map.addEdge(a, b, time);
  for (const peer of reporters) map.addReport(peer, reportAt);
  return map;
}

/** "`reporter` got `entryId` from `fromPeer` at `advertTime`." */
function sighting(
  id: string,
  reporter: string,
  fromPeer: string,
  advertTime: number,
  over: Partial<SightingRecord> = {},
): SightingRecord {
  return {
    id,
    reporter,
    fromPeer,
    entryId: ENTRY,
    advertTime,
    reportedAt: advertTime + MINUTE,
    effectiveAt: EFFECTIVE,
    ...over,
  };
}

function byPeer(verdicts: InferredVerdict[]): Record<string, InferredVerdict> {
  return Object.fromEntries(verdicts.map((verdict) => [verdict.peer, verdict]));
}

const CHAIN: [string, string][] = [
  ['A', 'B'],
  ['B', 'C'],
  ['C', 'D'],
];

/** Content flowed A → B → C → D, one minute a hop. */
const chainSightings = (start = AFTER) => [
  sighting('s1', 'B', 'A', start + MINUTE),
  sighting('s2', 'C', 'B', start + 2 * MINUTE),
  sighting('s3', 'D', 'C', start + 3 * MINUTE),
];

describe('server: origin inference', () => {
  const now = AFTER + 15 * MINUTE;

  describe('a chain A → B → C → D', () => {
    it('rates the origin black and the relays gray when every peer reports', () => {
      const map = mapOf(CHAIN, ['A', 'B', 'C', 'D'], AFTER);
      const { verdicts, findings, ignored } = inferVerdicts(map, chainSightings(), { now });
      expect(ignored).to.deep.equal([]);
      expect(verdicts.map((v) => v.peer)).to.deep.equal(['A', 'B', 'C']);
      const v = byPeer(verdicts);
      expect(v.A.rating).to.equal('black');
      expect(v.A.reason).to.match(/reported no neighbour that sent it: suspected origin/);
      // Its own offer first, then the spread traced back to it, newest first.
      expect(v.A.evidence).to.deep.equal(['s1', 's3', 's2']);
      expect(v.B.rating).to.equal('gray');
      expect(v.C.rating).to.equal('gray');
      expect(v.B.reason).to.match(/source is known \(from A\)/);
      expect(v.C.evidence).to.deep.equal(['s3']);
      // The origin answers for the whole spread, a relay for its own offers.
      expect(v.A.score).to.be.below(v.B.score);
      expect(v.B.score).to.be.below(0);
      expect(findings.map((f) => [f.peer, f.role])).to.deep.equal([
        ['A', 'reporting-origin'],
        ['B', 'relay'],
        ['C', 'relay'],
      ]);
      for (const verdict of verdicts) expect(verdict.expiresAt).to.be.above(now);
    });

    it('rates an origin that does not report black through its neighbour’s evidence', () => {
      const map = mapOf(CHAIN, ['B', 'C', 'D'], AFTER);
      const v = byPeer(inferVerdicts(map, chainSightings(), { now }).verdicts);
      expect(v.A.rating).to.equal('black');
      expect(v.A.reason).to.match(/does not report to this server/);
      expect(v.A.evidence[0]).to.equal('s1');
      expect(v.B.rating).to.equal('gray');
      expect(v.C.rating).to.equal('gray');
      expect(map.unconnected(now)).to.deep.equal(['A']);
    });

    it('finds two independent origins in one graph', () => {
      // A → B → C and F → G → H, with C and H neighbours, and G also passing it on to C.
      const map = mapOf(
        [
          ['A', 'B'],
          ['B', 'C'],
          ['F', 'G'],
          ['G', 'H'],
          ['C', 'H'],
          ['C', 'G'],
        ],
        ['A', 'B', 'C', 'G', 'H'],
        AFTER,
      );
      const sightings = [
        sighting('a1', 'B', 'A', AFTER + MINUTE),
        sighting('a2', 'C', 'B', AFTER + 2 * MINUTE),
        sighting('f1', 'G', 'F', AFTER + MINUTE),
        sighting('f2', 'H', 'G', AFTER + 2 * MINUTE),
        sighting('f3', 'C', 'G', AFTER + 3 * MINUTE),
      ];
      const { verdicts, findings } = inferVerdicts(map, sightings, { now });
      const v = byPeer(verdicts);
      expect(Object.keys(v)).to.deep.equal(['A', 'B', 'F', 'G']);
      expect(v.A.rating).to.equal('black');
      expect(v.F.rating).to.equal('black');
      expect(v.F.reason).to.match(/does not report/);
      expect(v.B.rating).to.equal('gray');
      expect(v.G.rating).to.equal('gray');
      expect(v.F.evidence).to.deep.equal(['f1', 'f3', 'f2']);
      expect(v.A.evidence).to.deep.equal(['a1', 'a2']);
      expect(findings.find((f) => f.peer === 'G')?.upstream).to.deep.equal(['F']);
    });
  });

  describe('claims that do not count', () => {
    it('ignores a sighting of a peer the reporter has no attested edge with', () => {
      // L received V's advert through someone else and claims V sent it directly.
      const map = mapOf(
        [
          ['V', 'W'],
          ['W', 'L'],
        ],
        ['L', 'V', 'W'],
        AFTER,
      );
      const { verdicts, ignored } = inferVerdicts(map, [sighting('lie', 'L', 'V', AFTER + MINUTE)], { now });
      expect(verdicts).to.deep.equal([]);
      expect(ignored).to.deep.equal([{ id: 'lie', reason: 'no-edge' }]);
    });

    it('ignores a sighting over an edge attested far from the advert’s time', () => {
      const map = mapOf([['L', 'V']], ['L', 'V'], AFTER - 10 * HOUR);
      const { verdicts, ignored } = inferVerdicts(map, [sighting('late', 'L', 'V', AFTER + MINUTE)], { now });
      expect(verdicts).to.deep.equal([]);
      expect(ignored).to.deep.equal([{ id: 'late', reason: 'no-edge' }]);
    });

    it('does not let a Sybil’s unattested edges accuse anyone, or explain anything', () => {
      // S1 and S2 are Sybils that say they are connected to H and to each other; no attestation reached the map.
      const map = mapOf(
        [
          ['A', 'B'],
          ['B', 'C'],
        ],
        ['A', 'B', 'C', 'S1', 'S2', 'H'],
        AFTER,
      );
      const sightings = [
        sighting('x1', 'S1', 'H', AFTER + MINUTE), // accuses honest H
        sighting('x2', 'S2', 'S1', AFTER + MINUTE),
        // B relays to C, and claims it had the content from S1: unattested, so B cannot explain it.
        sighting('b1', 'B', 'S1', AFTER),
        sighting('c1', 'C', 'B', AFTER + 2 * MINUTE),
      ];
      const { verdicts, ignored } = inferVerdicts(map, sightings, { now });
      const v = byPeer(verdicts);
      expect(Object.keys(v)).to.deep.equal(['B']);
      expect(v.B.rating).to.equal('black');
      expect(ignored.map((i) => i.id)).to.deep.equal(['b1', 'x1', 'x2']);
    });

    it('ignores sightings of oneself, adverts dated after their report, and duplicate ids', () => {
      const map = mapOf([['A', 'B']], ['A', 'B'], AFTER);
      const sightings = [
        sighting('self', 'B', 'B', AFTER),
        sighting('future', 'B', 'A', AFTER + HOUR, { reportedAt: AFTER }),
        sighting('dup', 'B', 'A', AFTER),
        sighting('dup', 'B', 'A', AFTER + MINUTE),
      ];
      const { verdicts, ignored } = inferVerdicts(map, sightings, { now: AFTER + 2 * HOUR });
      expect(ignored).to.deep.equal([
        { id: 'dup', reason: 'duplicate' },
        { id: 'future', reason: 'future' },
        { id: 'self', reason: 'self' },
      ]);
      expect(verdicts.map((v) => [v.peer, v.evidence])).to.deep.equal([['A', ['dup']]]);
    });
  });

  describe('timing', () => {
    it('weighs distributing after the version took effect more than before', () => {
      const age = 30 * MINUTE;
      const rate = (effectiveAt: number) => {
        const map = mapOf([['A', 'B']], ['B'], AFTER);
        const s = sighting('s', 'B', 'A', AFTER, { effectiveAt });
        return inferVerdicts(map, [s], { now: AFTER + age }).verdicts[0];
      };
      const after = rate(EFFECTIVE);
      const before = rate(AFTER + MINUTE);
      expect(after.rating).to.equal('black');
      expect(before.rating).to.equal('black'); // an unreporting distributor, all the same
      expect(after.score).to.be.below(before.score);
      // Not chai's closeTo: Hardhat's chai matchers take it over for bigints and refuse fractions.
      expect(Math.abs(after.score / before.score - 4)).to.be.below(1e-5);
    });

    it('rates a relay that stopped before the version took effect white, and one that went on gray', () => {
      const map = mapOf(
        [
          ['A', 'B'],
          ['B', 'C'],
          ['A', 'D'],
          ['D', 'E'],
        ],
        ['B', 'C', 'D', 'E'],
        EFFECTIVE,
      );
      const within = EFFECTIVE + DEFAULT_GRACE_MS - 2 * MINUTE;
      const sightings = [
        sighting('ab', 'B', 'A', within),
        sighting('bc', 'C', 'B', within + MINUTE), // B stopped
        sighting('ad', 'D', 'A', within),
        sighting('de1', 'E', 'D', within + MINUTE),
        sighting('de2', 'E', 'D', EFFECTIVE + DEFAULT_GRACE_MS + MINUTE), // D went on
      ];
      const v = byPeer(inferVerdicts(map, sightings, { now: EFFECTIVE + HOUR }).verdicts);
      expect(v.B.rating).to.equal('white');
      expect(v.B.reason).to.match(/only before the list version took effect, and stopped/);
      expect(v.D.rating).to.equal('gray');
      expect(v.A.rating).to.equal('black');
    });

    it('rates a reporting origin within the grace gray, or black without the grace rule', () => {
      const map = mapOf(
        [
          ['A', 'B'],
          ['B', 'C'],
        ],
        ['A', 'B', 'C'],
        EFFECTIVE,
      );
      const sightings = [sighting('s', 'B', 'A', EFFECTIVE + MINUTE)];
      const options: InferenceOptions = { now: EFFECTIVE + HOUR };
      const lenient = inferVerdicts(map, sightings, options).verdicts[0];
      expect(lenient.rating).to.equal('gray');
      expect(lenient.reason).to.match(/only before the list version could reach it/);
      const strict = inferVerdicts(map, sightings, { ...options, reportingOriginGrace: false }).verdicts[0];
      expect(strict.rating).to.equal('black');
    });

    it('decays old evidence, expires verdicts, and refreshes them with new evidence', () => {
      const halfLifeMs = 6 * HOUR;
      const verdictTtlMs = DAY;
      const map = mapOf(CHAIN, ['B', 'C', 'D'], AFTER);
      const sightings = chainSightings();
      const options = { halfLifeMs, verdictTtlMs };
      const fresh = byPeer(inferVerdicts(map, sightings, { ...options, now }).verdicts);
      const later = byPeer(inferVerdicts(map, sightings, { ...options, now: now + halfLifeMs }).verdicts);
      expect(later.A.rating).to.equal('black');
      expect(Math.abs(later.A.score - fresh.A.score / 2)).to.be.below(1e-6);
      expect(later.A.expiresAt).to.equal(fresh.A.expiresAt);
      expect(fresh.A.expiresAt).to.equal(AFTER + MINUTE + verdictTtlMs);

      // No new evidence: every finding runs out a day after the peer's last offer.
      const expired = inferVerdicts(map, sightings, { ...options, now: AFTER + 3 * MINUTE + verdictTtlMs });
      expect(expired.verdicts).to.deep.equal([]);

      // A new offer by A, over a re-attested edge, brings A's verdict back, and only A's.
      const then = AFTER + 2 * DAY;
      map.addEdge('A', 'B', then);
      map.addReport('B', then);
      const renewed = byPeer(
        inferVerdicts(map, [...sightings, sighting('s4', 'B', 'A', then)], { ...options, now: then + MINUTE }).verdicts,
      );
      expect(Object.keys(renewed)).to.deep.equal(['A']);
      expect(renewed.A.rating).to.equal('black');
      expect(renewed.A.expiresAt).to.equal(then + verdictTtlMs);
      expect(renewed.A.evidence[0]).to.equal('s4');
    });
  });

  describe('reporting origins', () => {
    it('waits for a connected peer’s next report before blaming it', () => {
      const map = mapOf(CHAIN, ['B', 'C', 'D'], AFTER);
      map.addReport('A', AFTER); // A reported, but not since it offered the content
      const sightings = chainSightings();
      const before = byPeer(inferVerdicts(map, sightings, { now }).verdicts);
      expect(before.A.rating).to.equal('gray');
      expect(before.A.reason).to.match(/awaits its next report/);
      // Its next report names no source: now it is the origin.
      map.addReport('A', AFTER + 5 * MINUTE);
      const after = byPeer(inferVerdicts(map, sightings, { now }).verdicts);
      expect(after.A.rating).to.equal('black');
    });

    it('blames a peer that offered the content before any neighbour sent it', () => {
      const map = mapOf(
        [
          ['A', 'B'],
          ['B', 'C'],
        ],
        ['A', 'B', 'C'],
        AFTER,
      );
      const sightings = [
        sighting('bc', 'C', 'B', AFTER + MINUTE),
        sighting('ab', 'B', 'A', AFTER + 5 * MINUTE), // B "received" it four minutes after offering it
      ];
      const v = byPeer(inferVerdicts(map, sightings, { now }).verdicts);
      expect(v.B.rating).to.equal('black');
      expect(v.B.reason).to.match(/before any neighbour it reported had sent it/);
      expect(v.A.rating).to.equal('black');
    });

    it('breaks a circle of claims at its earliest offer', () => {
      // Z offers to Y at t, then claims Y sent it back within clock skew; Y honestly names Z.
      const map = mapOf(
        [
          ['Y', 'Z'],
          ['X', 'Y'],
        ],
        ['X', 'Y', 'Z'],
        AFTER,
      );
      const sightings = [
        sighting('zy', 'Y', 'Z', AFTER),
        sighting('yz', 'Z', 'Y', AFTER + 10_000),
        sighting('yx', 'X', 'Y', AFTER + MINUTE),
      ];
      const { verdicts, findings } = inferVerdicts(map, sightings, { now });
      const v = byPeer(verdicts);
      expect(v.Z.rating).to.equal('black');
      expect(v.Z.reason).to.match(/circle/);
      expect(v.Y.rating).to.equal('gray');
      expect(findings.map((f) => [f.peer, f.role])).to.deep.equal([
        ['Y', 'relay'],
        ['Z', 'circular-origin'],
      ]);
    });

    it('keeps an unreporting relay’s known source: it is a relay, not the origin', () => {
      // B reported where it got the content, then stopped reporting.
      const map = mapOf(CHAIN, ['A', 'C', 'D'], AFTER);
      map.addReport('B', AFTER - 3 * HOUR);
      const v = byPeer(inferVerdicts(map, chainSightings(), { now }).verdicts);
      expect(v.B.rating).to.equal('gray');
      expect(v.A.rating).to.equal('black');
    });
  });

  describe('output', () => {
    it('is the same for the same input, whatever its order', () => {
      const map = mapOf(CHAIN, ['B', 'C', 'D'], AFTER);
      const sightings = [
        ...chainSightings(),
        sighting('t1', 'B', 'A', AFTER + 4 * MINUTE, { entryId: '0xe2' }),
        sighting('t2', 'C', 'B', AFTER + 5 * MINUTE, { entryId: '0xe2' }),
      ];
      const once = inferVerdicts(map, sightings, { now });
      const twice = inferVerdicts(map, [...sightings].reverse(), { now });
      expect(twice).to.deep.equal(once);
      expect(JSON.stringify(twice)).to.equal(JSON.stringify(once));
      expect(once.verdicts.find((v) => v.peer === 'A')?.reason).to.match(/\+1 more finding\)$/);
    });

    it('gives verdicts nodes can sign and read', async () => {
      const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
      const map = mapOf([[peer, 'B']], ['B'], AFTER);
      const [verdict] = inferVerdicts(map, [sighting('s', 'B', peer, AFTER, { cid: 'bafyexample' })], { now }).verdicts;
      expect(verdict.reason).to.include('bafyexample');
      const signed = toProtocolVerdict(verdict);
      expect(signed.peer).to.deep.equal(toPeerIdBytes(peer));
      expect(signed.rating).to.equal('black');
    });
  });

  describe('topology hints', () => {
    // Hub H1 (degree 4) and H2 (degree 3) are gray and black; W1 (3), W2 (2), W3 (1) have no bad verdict.
    const map = mapOf(
      [
        ['H1', 'a'],
        ['H1', 'b'],
        ['H1', 'c'],
        ['H1', 'd'],
        ['H2', 'a'],
        ['H2', 'b'],
        ['H2', 'c'],
        ['W1', 'a'],
        ['W1', 'b'],
        ['W1', 'Q'],
        ['W2', 'a'],
        ['W2', 'b'],
        ['W3', 'a'],
        ['Q', 'W4'],
        ['U', 'a'],
        ['U', 'b'],
        ['U', 'c'],
        ['U', 'd'],
        ['U', 'e'],
      ],
      ['H1', 'H2', 'W1', 'W2', 'W3', 'W4', 'Q', 'lonely'],
      AFTER,
    );
    const verdicts = [
      { peer: 'H1', rating: 'gray' as const },
      { peer: 'H2', rating: 'black' as const },
      { peer: 'W3', rating: 'white' as const },
    ];

    it('suggests reporting, well-rated peers by degree, never the asker or its neighbours', () => {
      const hints = topologyHints(map, verdicts, 'Q', { now, limit: 3 });
      // U has the highest degree but does not report; W1 is Q's neighbour; W4 is Q's neighbour too.
      expect(hints).to.deep.equal([
        { peer: 'W2', degree: 2 },
        { peer: 'W3', degree: 1 },
      ]);
      const index = new HintIndex(map, verdicts, now);
      expect(index.hintsFor('W2').map((h) => h.peer)).to.deep.equal(['W1', 'Q', 'W3', 'W4']);
      expect(index.hintsFor('outsider', 1)).to.deep.equal([{ peer: 'W1', degree: 3 }]);
    });
  });
});

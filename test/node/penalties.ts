import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import type { Connection } from '@libp2p/interface';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { RegistrySync } from '../../src/chain/registry-sync.js';
import { createNrpNode, type NrpNode, type NrpNodeInit } from '../../src/node/node.js';
import { type PenaltyChangeEvent, type PenaltyVerdict, penaltyFromVerdicts } from '../../src/node/penalties.js';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import type { FollowedServer } from '../../src/node/ratings.js';
import { publicClient, type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { getBlock } from '../ipfs/helpers.js';
import { VerdictPublisher } from './helpers/verdict-publisher.js';
import { record, waitFor } from './helpers/wait.js';

const MINUTE = 60_000;
const TOPIC = 'nrp/test/penalties';

/** What the test reads of gossipsub beyond its exported interface. */
interface GossipSubInternals {
  getMeshPeers(topic: string): string[];
  getScore(peer: string): number;
}

const gossip = (node: NrpNode) => node.helia.libp2p.services.pubsub as unknown as GossipSubInternals;

describe('penalties', function () {
  this.timeout(60_000);

  describe('the penalty table', () => {
    const now = 1_750_000_000_000;
    const verdict = (over: Partial<PenaltyVerdict>): PenaltyVerdict => ({
      server: 'S-high',
      priority: 'high',
      rating: 'black',
      score: -1,
      reason: 'first unexplained hop',
      evidence: ['report:1'],
      expiresAt: now + MINUTE,
      ...over,
    });

    it('maps rating × priority to a penalty', () => {
      const cases: [PenaltyVerdict['rating'], PenaltyVerdict['priority'], string][] = [
        ['black', 'high', 'disconnect'],
        ['black', 'low', 'delay'],
        ['gray', 'high', 'delay'],
        ['gray', 'low', 'none'],
        ['white', 'high', 'none'],
        ['white', 'low', 'none'],
      ];
      for (const [rating, priority, kind] of cases) {
        expect(penaltyFromVerdicts([verdict({ rating, priority })], now).kind, `${rating} from ${priority}`).to.equal(
          kind,
        );
      }
      expect(penaltyFromVerdicts([], now)).to.deep.equal({ kind: 'none', because: [] });
    });

    it('lets the strongest win, explains every verdict behind it, and ignores expired ones', () => {
      const penalty = penaltyFromVerdicts(
        [
          verdict({ server: 'S-low', priority: 'low', rating: 'black', expiresAt: now + 5 * MINUTE }),
          verdict({ server: 'S-high', rating: 'gray', expiresAt: now + 2 * MINUTE, evidence: ['sighting:9'] }),
          verdict({ server: 'S-high2', rating: 'black', expiresAt: now + MINUTE }),
          verdict({ server: 'S-old', rating: 'black', expiresAt: now }),
          verdict({ server: 'S-white', rating: 'white' }),
        ],
        now,
      );
      expect(penalty.kind).to.equal('disconnect');
      expect(penalty.until).to.equal(now + MINUTE);
      expect(penalty.because.map((c) => [c.server, c.effect])).to.deep.equal([
        ['S-high2', 'disconnect'],
        ['S-low', 'delay'],
        ['S-high', 'delay'],
      ]);
      expect(penalty.because[2]).to.include({ rating: 'gray', reason: 'first unexplained hop' });
      expect(penalty.because[2].evidence).to.deep.equal(['sighting:9']);
      // Once the disconnect runs out, the delays remain, until the later of them.
      const later = penaltyFromVerdicts(
        penalty.because.map((c) => verdict(c)),
        now + MINUTE,
      );
      expect(later).to.include({ kind: 'delay', until: now + 5 * MINUTE });
    });
  });

  // Nodes built by createNrpNode, as `nrp node start` builds them: the ratings client and penalty manager inside
  // libp2p (gater, gossipsub score), the advert service and bitswap asking them how long to hold a peer.
  describe('on a live node', () => {
    let dao: ViemDao;
    let registry: RegistrySync;
    const publishers: VerdictPublisher[] = [];
    const nodes: NrpNode[] = [];

    beforeEach(async () => {
      dao = await networkHelpers.loadFixture(viemDaoFixture);
      registry = new RegistrySync({ registry: dao.registry, chainId: 31337, fromBlock: 0n }, { client: publicClient });
    });
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((node) => node.stop()));
      await Promise.all(publishers.splice(0).map((publisher) => publisher.stop().catch(() => {})));
    });

    async function publisher() {
      const started = await VerdictPublisher.start({ dao });
      publishers.push(started);
      return started;
    }

    /** A node following `servers`, polled by hand: the test's `pollOnce` calls are the only polls. */
    async function ratedNode(servers: FollowedServer[], init: Pick<NrpNodeInit, 'dataDir' | 'penalties'> = {}) {
      await registry.syncOnce();
      const node = await createNrpNode({
        ...init,
        registry,
        ratingServers: servers,
        ratings: { intervalMs: 3_600_000, timeoutMs: 5_000 },
      });
      nodes.push(node);
      // The loop polls once at start; polls of a server run one after another, so this returns after that one.
      await node.ratings.pollOnce();
      return node;
    }

    /** A neighbour to be rated: a node that follows no server. */
    async function neighbour() {
      const node = await createNrpNode();
      nodes.push(node);
      return node;
    }

    /** A rated node following `high` and `low` (if given), with one neighbour connected to it. */
    async function setup(high: VerdictPublisher, low?: VerdictPublisher, dataDir?: string) {
      const node = await ratedNode([high.followed('high'), ...(low ? [low.followed('low')] : [])], { dataDir });
      const other = await neighbour();
      await other.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs());
      const peerId = other.helia.libp2p.peerId;
      return { node, neighbour: other, peer: toPeerIdBytes(peerId), id: peerId.toString() };
    }

    const connected = (node: NrpNode, other: NrpNode) =>
      node.helia.libp2p.getConnections(other.helia.libp2p.peerId).length > 0;

    it('disconnects on a black verdict from a high-priority server and refuses the peer until it expires', async () => {
      const server = await publisher();
      const { node, neighbour, peer, id } = await setup(server);
      const changes = record<PenaltyChangeEvent>(node.penalties, 'change');
      await server.publish([server.verdict(peer, 'black', 4_000, 'first unexplained hop')]);
      await node.ratings.pollOnce();

      await waitFor('the hang-up', () => !connected(node, neighbour));
      const penalty = node.penalties.penaltyOf(id);
      expect(penalty.kind).to.equal('disconnect');
      expect(penalty.because).to.have.length(1);
      expect(penalty.because[0]).to.include({
        server: server.peerId,
        priority: 'high',
        rating: 'black',
        reason: 'first unexplained hop',
        effect: 'disconnect',
      });
      expect(penalty.because[0].evidence).to.deep.equal(['report:1']);
      expect(penalty.until).to.equal(penalty.because[0].expiresAt);
      expect(changes.map((c) => [c.peer, c.previous.kind, c.penalty.kind])).to.deep.equal([[id, 'none', 'disconnect']]);
      expect(node.penalties.appSpecificScore(id)).to.be.below(-100);

      // The server going silent changes nothing: its verdict stands until it expires.
      await server.stop();
      expect(await node.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'unreachable']]));

      // Neither side can reconnect while the verdict stands. Inbound, the node learns who dials only once the
      // handshake is done, so the dialer may think for a moment it is through before the node drops it.
      const opened = record<Connection>(node.helia.libp2p, 'connection:open');
      await neighbour.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs()).catch(() => {});
      await waitFor(
        'the neighbour to see the refused connection closed',
        () => neighbour.helia.libp2p.getConnections(node.helia.libp2p.peerId).length === 0,
        5_000,
      );
      expect(opened.filter((c) => c.remotePeer.equals(neighbour.helia.libp2p.peerId))).to.deep.equal([]);
      expect(connected(node, neighbour)).to.equal(false);
      const outbound = await node.helia.libp2p.dial(neighbour.helia.libp2p.getMultiaddrs()).then(
        () => 'connected',
        (error: Error) => error.name,
      );
      expect(outbound).to.equal('DialDeniedError');

      // At expiry the manager says so, and the peer may come back.
      await waitFor('the verdict to expire', () => changes.length === 2, 10_000);
      expect(changes[1]).to.deep.include({ peer: id, penalty: { kind: 'none', because: [] } });
      expect(node.penalties.appSpecificScore(id)).to.equal(0);
      await neighbour.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs());
      await waitFor('the neighbour back', () => connected(node, neighbour), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(connected(node, neighbour), 'and it stays').to.equal(true);
    });

    it('refuses a disconnected peer from the first connection after a restart, with its server down', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'nrp-penalties-'));
      try {
        const server = await publisher();
        const { node, peer, neighbour } = await setup(server, undefined, dataDir);
        await server.publish([server.verdict(peer, 'black', MINUTE)]);
        await node.ratings.pollOnce();
        await server.stop();
        await node.stop();
        nodes.splice(nodes.indexOf(node), 1);

        const restarted = await ratedNode([server.followed('high')], { dataDir });
        expect(restarted.penalties.penaltyOf(neighbour.helia.libp2p.peerId).kind).to.equal('disconnect');
        const opened = record<Connection>(restarted.helia.libp2p, 'connection:open');
        await neighbour.helia.libp2p.dial(restarted.helia.libp2p.getMultiaddrs()).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(opened).to.deep.equal([]);
        expect(
          await restarted.helia.libp2p.dial(neighbour.helia.libp2p.getMultiaddrs()).catch((e: Error) => e.name),
        ).to.equal('DialDeniedError');
      } finally {
        await removeDir(dataDir);
      }
    });

    it('only delays on a black verdict from a low-priority server: connected, out of the mesh, adverts and blocks late', async () => {
      const high = await publisher();
      const low = await publisher();
      const node = await ratedNode([high.followed('high'), low.followed('low')], { penalties: { delayMs: 1_500 } });
      const delayed = await neighbour();
      const id = delayed.helia.libp2p.peerId.toString();
      await delayed.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs());
      node.helia.libp2p.services.pubsub.subscribe(TOPIC);
      delayed.helia.libp2p.services.pubsub.subscribe(TOPIC);
      await waitFor('the neighbour in the mesh', () => gossip(node).getMeshPeers(TOPIC).includes(id));

      await low.publish([low.verdict(toPeerIdBytes(id), 'black', MINUTE)]);
      await node.ratings.pollOnce();
      const penalty = node.penalties.penaltyOf(id);
      expect(penalty).to.include({ kind: 'delay' });
      expect(penalty.because[0]).to.include({ server: low.peerId, priority: 'low', rating: 'black' });
      expect(node.penalties.delayFor(id)).to.equal(1_500);
      expect(node.penalties.delayFor(node.helia.libp2p.peerId.toString())).to.equal(0);
      expect(node.penalties.appSpecificScore(id)).to.be.below(0);
      await waitFor(
        'the neighbour out of the mesh',
        () => gossip(node).getScore(id) < 0 && !gossip(node).getMeshPeers(TOPIC).includes(id),
      );

      // Its adverts still arrive (it is delayed, not cut off), a delay later.
      const content = record<{ cid: CID; fromPeer?: string }>(node.adverts, 'content');
      const bytes = new TextEncoder().encode('shared by a delayed peer');
      const cid = await unixfs(delayed.helia).addBytes(bytes);
      const sharedAt = Date.now();
      await delayed.adverts.share(cid, bytes.length, 'late.txt');
      await waitFor('the content at the rated node', () => content.length > 0);
      expect(Date.now() - sharedAt).to.be.at.least(1_500);
      expect(content[0]).to.include({ fromPeer: id });
      expect(connected(node, delayed)).to.equal(true);

      // The blocks it asks of the rated node come a delay late too, while an unrated neighbour gets them at once.
      // (Neither neighbour knows the other, so each can get the block from the rated node only.)
      const prompt = await neighbour();
      await prompt.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs());
      const block = new TextEncoder().encode('a block the rated node holds');
      const blockCid = CID.create(1, raw.code, await sha256.digest(block));
      await node.helia.blockstore.put(blockCid, block);
      const timed = async (asker: NrpNode) => {
        const started = Date.now();
        const got = await getBlock(asker.helia.blockstore, blockCid, { signal: AbortSignal.timeout(10_000) });
        return { got, ms: Date.now() - started };
      };
      const [late, early] = await Promise.all([timed(delayed), timed(prompt)]);
      expect(late.got).to.deep.equal(block);
      expect(early.got).to.deep.equal(block);
      expect(late.ms).to.be.at.least(1_500);
      expect(early.ms).to.be.below(1_000);
    });

    it('delays on gray from a high-priority server, ignores gray from a low one, and lets the strongest win', async () => {
      const high = await publisher();
      const low = await publisher();
      const { node, neighbour: first, peer, id } = await setup(high, low);
      const others = [await neighbour(), await neighbour()];
      const [grayLow, both] = others.map((other) => toPeerIdBytes(other.helia.libp2p.peerId));
      const idOf = (i: number) => others[i].helia.libp2p.peerId.toString();

      await high.publish([high.verdict(peer, 'gray', MINUTE), high.verdict(both, 'gray', MINUTE)]);
      await low.publish([low.verdict(grayLow, 'gray', MINUTE), low.verdict(both, 'black', 2 * MINUTE)]);
      await node.ratings.pollOnce();

      expect(node.penalties.penaltyOf(id)).to.include({ kind: 'delay' });
      expect(node.penalties.delayFor(id)).to.be.above(0);
      expect(node.penalties.penaltyOf(idOf(0))).to.deep.equal({ kind: 'none', because: [] });
      expect(node.penalties.delayFor(idOf(0))).to.equal(0);
      expect(node.penalties.appSpecificScore(idOf(0))).to.equal(0);
      const mixed = node.penalties.penaltyOf(idOf(1));
      expect(mixed.kind).to.equal('delay');
      expect(mixed.because.map((c) => [c.priority, c.rating])).to.have.deep.members([
        ['low', 'black'],
        ['high', 'gray'],
      ]);
      expect(mixed.until).to.equal(Math.max(...mixed.because.map((c) => c.expiresAt)));
      expect([...node.penalties.penalties.keys()]).to.have.members([id, idOf(1)]);
      expect(connected(node, first)).to.equal(true);

      // A black from the high-priority server outweighs them all.
      await high.publish([high.verdict(both, 'black', MINUTE)]);
      await node.ratings.pollOnce();
      expect(node.penalties.penaltyOf(idOf(1)).kind).to.equal('disconnect');
      expect(node.penalties.penaltyOf(id).kind, 'the new snapshot drops the gray verdict').to.equal('none');
    });

    it('lifts the penalties of a server that is suspended, and applies them again on reactivation', async () => {
      const server = await publisher();
      const { node, neighbour, peer, id } = await setup(server);
      await server.publish([server.verdict(peer, 'black', MINUTE)]);
      await node.ratings.pollOnce();
      await waitFor('the hang-up', () => !connected(node, neighbour));

      const changes = record<PenaltyChangeEvent>(node.penalties, 'change');
      await server.setStatus('suspended');
      await registry.syncOnce();
      expect(node.penalties.penaltyOf(id).kind).to.equal('none');
      await node.ratings.pollOnce();
      expect(changes.map((c) => c.penalty.kind)).to.deep.equal(['none']);
      await neighbour.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs());

      await server.setStatus('active');
      await registry.syncOnce();
      await node.ratings.pollOnce();
      expect(changes.map((c) => c.penalty.kind)).to.deep.equal(['none', 'disconnect']);
      await waitFor('the hang-up', () => !connected(node, neighbour));
    });
  });
});

import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { entryId } from '../../src/lists/entry-id.js';
import { type AcceptedAdvertEvent, ADVERT_TOPIC, type RejectedAdvertEvent } from '../../src/node/adverts.js';
import { ADVERT_PUSH_PROTOCOL, MAX_ADVERT_PUSH_BYTES } from '../../src/node/delayed-adverts.js';
import { LocalList } from '../../src/node/local-list.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { GOSSIP_SCORE_THRESHOLDS } from '../../src/node/penalties.js';
import { createAdvert, encodeAdvert } from '../../src/node/protocol/advert.js';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { request } from '../../src/node/rpc.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { startHost, type TestHost } from './helpers/peers.js';
import { syncedRegistry, VerdictPublisher } from './helpers/verdict-publisher.js';
import { record, waitFor } from './helpers/wait.js';
import { cidOf, newPeer, tamper } from './protocol/helpers.js';

const DELAY_MS = 1_500;

/** What the test reads of gossipsub beyond its exported interface. */
interface GossipSubInternals {
  getScore(peer: string): number;
}

const gossip = (node: NrpNode) => node.helia.libp2p.services.pubsub as unknown as GossipSubInternals;
const idOf = (node: NrpNode) => node.helia.libp2p.peerId.toString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** When each advert for `cid` from `from` passed `node`'s checks, in ms after `since`. */
function arrivals(node: NrpNode, from: NrpNode) {
  const events: (AcceptedAdvertEvent & { at: number })[] = [];
  node.adverts.addEventListener('accepted', ({ detail }) => events.push({ ...detail, at: Date.now() }));
  return (cid: CID, since: number) =>
    events.filter((e) => e.fromPeer === idOf(from) && e.cid.equals(cid)).map((e) => e.at - since);
}

describe('delayed adverts', function () {
  this.timeout(60_000);
  const nodes: NrpNode[] = [];

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  async function node(init: Parameters<typeof createNrpNode>[0] = {}) {
    const started = await createNrpNode(init);
    nodes.push(started);
    return started;
  }

  describe('on a rated node', () => {
    let dao: ViemDao;
    const publishers: VerdictPublisher[] = [];

    beforeEach(async () => {
      dao = await networkHelpers.loadFixture(viemDaoFixture);
    });
    afterEach(async () => {
      await Promise.all(publishers.splice(0).map((publisher) => publisher.stop().catch(() => {})));
    });

    it('sends its adverts to a delayed peer a delay late, to others at once, and to a disconnected one never', async () => {
      const high = await VerdictPublisher.start({ dao });
      const low = await VerdictPublisher.start({ dao });
      publishers.push(high, low);
      const registry = await syncedRegistry(dao);
      const rated = await node({
        registry,
        ratingServers: [high.followed('high'), low.followed('low')],
        ratings: { intervalMs: 3_600_000, timeoutMs: 5_000 },
        penalties: { delayMs: DELAY_MS },
      });
      // Three neighbours that know only the rated node, so each can hear of its content from it alone.
      const [delayed, prompt, cut] = [await node(), await node(), await node()];
      for (const neighbour of [delayed, prompt, cut]) {
        await neighbour.helia.libp2p.dial(rated.helia.libp2p.getMultiaddrs());
      }
      await waitFor('gossipsub to see the advert topic both ways, and identify done', async () => {
        for (const neighbour of [delayed, prompt, cut]) {
          const subscribers = rated.helia.libp2p.services.pubsub.getSubscribers(ADVERT_TOPIC).map(String);
          if (!subscribers.includes(idOf(neighbour))) return false;
          const back = neighbour.helia.libp2p.services.pubsub.getSubscribers(ADVERT_TOPIC).map(String);
          if (!back.includes(idOf(rated))) return false;
          const known = await rated.helia.libp2p.peerStore.get(neighbour.helia.libp2p.peerId);
          if (!known.protocols.includes(ADVERT_PUSH_PROTOCOL)) return false;
        }
        return true;
      });

      await low.publish([low.verdict(toPeerIdBytes(idOf(delayed)), 'black', 60_000)]);
      await high.publish([high.verdict(toPeerIdBytes(idOf(cut)), 'black', 60_000)]);
      await rated.ratings.pollOnce();
      expect(rated.penalties.penaltyOf(idOf(delayed)).kind).to.equal('delay');
      await waitFor('the hang-up', () => rated.helia.libp2p.getConnections(cut.helia.libp2p.peerId).length === 0);
      // Gossipsub caches scores for a heartbeat: wait until it has the delayed peer between the two thresholds.
      await waitFor('the delayed peer below the publish threshold', () => {
        const score = gossip(rated).getScore(idOf(delayed));
        return score < GOSSIP_SCORE_THRESHOLDS.publishThreshold && score >= GOSSIP_SCORE_THRESHOLDS.graylistThreshold;
      });
      expect(rated.helia.libp2p.getConnections(delayed.helia.libp2p.peerId)).to.have.length.greaterThan(0);

      const atDelayed = arrivals(delayed, rated);
      const atPrompt = arrivals(prompt, rated);
      const atCut = arrivals(cut, rated);
      const bytes = new TextEncoder().encode('shared by the rated node');
      const cid = await unixfs(rated.helia).addBytes(bytes);
      const sharedAt = Date.now();
      await rated.adverts.share(cid, bytes.length, 'news.txt');

      await waitFor('the advert at the prompt neighbour', () => atPrompt(cid, sharedAt).length > 0);
      expect(atPrompt(cid, sharedAt)[0]).to.be.below(1_000);
      expect(atDelayed(cid, sharedAt), 'nothing reaches the delayed peer early').to.deep.equal([]);
      expect(rated.delayedAdverts.pending(delayed.helia.libp2p.peerId)).to.equal(1);

      await waitFor('the advert at the delayed neighbour', () => atDelayed(cid, sharedAt).length > 0, 10_000);
      const [late, ...more] = atDelayed(cid, sharedAt);
      expect(late).to.be.at.least(DELAY_MS);
      expect(late).to.be.below(DELAY_MS + 2_000);
      expect(more, 'once, not by gossip as well').to.deep.equal([]);
      // It fetches the content too (the rated node serves it the blocks late as well) and is still connected.
      await waitFor('the content at the delayed neighbour', () => delayed.store.hasContent(cid.toString()), 15_000);
      expect(rated.helia.libp2p.getConnections(delayed.helia.libp2p.peerId)).to.have.length.greaterThan(0);
      expect(rated.delayedAdverts.pending(delayed.helia.libp2p.peerId)).to.equal(0);

      await sleep(500);
      expect(atCut(cid, sharedAt), 'the disconnected peer gets nothing').to.deep.equal([]);
      expect(cut.store.hasContent(cid.toString())).to.equal(false);
      expect(rated.delayedAdverts.pending(cut.helia.libp2p.peerId)).to.equal(0);
    });
  });

  // The sender is a plain libp2p host with its key at hand, pushing whatever bytes a test gives it.
  describe(`bad input on ${ADVERT_PUSH_PROTOCOL}`, () => {
    let receiver: NrpNode;
    let sender: TestHost;
    let listedCid: CID;
    let rejected: RejectedAdvertEvent[];
    const hosts: TestHost[] = [];

    beforeEach(async () => {
      listedCid = await cidOf('listed');
      receiver = await node({
        lists: [new LocalList([entryId(listedCid)])],
        // A plain host signs no edge: attestation is not what these tests are about.
        adverts: { autoFetch: false, ratePerSecond: 10, burst: 20, acceptFrom: () => true },
      });
      sender = await host();
      rejected = record<RejectedAdvertEvent>(receiver.adverts, 'rejected');
    });
    afterEach(async () => {
      await Promise.all(hosts.splice(0).map((h) => h.helia.stop()));
    });

    async function host() {
      const started = await startHost();
      hosts.push(started);
      await started.helia.libp2p.dial(receiver.helia.libp2p.getMultiaddrs());
      return started;
    }

    const push = (from: TestHost, bytes: Uint8Array) =>
      request(from.helia.libp2p, receiver.helia.libp2p.peerId, ADVERT_PUSH_PROTOCOL, bytes, {
        signal: AbortSignal.timeout(5_000),
      });

    /** The receiver still takes a good advert from the sender: it kept running, and kept the connection. */
    async function stillWorks() {
      const accepted = record<AcceptedAdvertEvent>(receiver.adverts, 'accepted');
      const advert = encodeAdvert(await createAdvert(sender.key, { cid: await cidOf('good'), size: 4 }));
      expect(await push(sender, advert)).to.have.length(0);
      await waitFor('the good advert taken', () => accepted.length > 0);
      expect(accepted[0].fromPeer).to.equal(sender.id);
    }

    it('refuses malformed bytes, and a too-large advert, as malformed', async () => {
      expect(await push(sender, new Uint8Array([1, 2, 3]))).to.have.length(0);
      expect(await push(sender, new Uint8Array(2_048))).to.have.length(0);
      await waitFor('two rejections', () => rejected.length === 2);
      expect(rejected.map((r) => [r.fromPeer, r.reason])).to.deep.equal([
        [sender.id, 'malformed'],
        [sender.id, 'malformed'],
      ]);
      expect(rejected[1].message).to.match(/large|bytes/i);
      await stillWorks();
    });

    it('resets a push over its size limit unread', async () => {
      const error = await push(sender, new Uint8Array(MAX_ADVERT_PUSH_BYTES + 1)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error, 'the stream is reset').to.be.instanceOf(Error);
      await sleep(200);
      expect(rejected).to.deep.equal([]);
      await stillWorks();
    });

    it('refuses an advert signed by another peer than the one that pushed it', async () => {
      const other = await newPeer();
      const advert = encodeAdvert(await createAdvert(other.key, { cid: await cidOf('clean'), size: 5 }));
      await push(sender, advert);
      await waitFor('the rejection', () => rejected.length === 1);
      expect(rejected[0]).to.include({ fromPeer: sender.id, reason: 'not-from-sender' });
      await stillWorks();
    });

    it('keeps a pushed listed advert as evidence, and only if its signature verifies', async () => {
      const advert = encodeAdvert(await createAdvert(sender.key, { cid: listedCid, size: 6 }));
      const forged = tamper(advert, (value) => {
        (value.signature as Uint8Array)[0] ^= 0xff;
      });
      await push(sender, forged);
      await waitFor('the rejection', () => rejected.length === 1);
      expect(rejected[0]).to.include({ fromPeer: sender.id, reason: 'bad-signature' });
      expect(receiver.store.listEvidence()).to.deep.equal([]);

      await push(sender, advert);
      await waitFor('the evidence', () => receiver.store.listEvidence().length === 1);
      const [evidence] = receiver.store.listEvidence();
      expect(evidence.fromPeer).to.equal(sender.id);
      expect(evidence.advert).to.deep.equal(advert);
      expect(evidence.cid).to.equal(listedCid.toString());
    });

    it('rate-limits a flood of pushes from one peer, and only that peer', async () => {
      for (let i = 0; i < 40; i++) {
        const advert = await createAdvert(sender.key, { cid: await cidOf(`flood ${i}`), size: 1 });
        await push(sender, encodeAdvert(advert));
      }
      await sleep(200);
      expect(rejected.filter((r) => r.reason === 'rate-limited').length).to.be.within(15, 25);
      expect(rejected.every((r) => r.reason === 'rate-limited' && r.fromPeer === sender.id)).to.equal(true);
      const calm = await host();
      const accepted = record<AcceptedAdvertEvent>(receiver.adverts, 'accepted');
      await push(calm, encodeAdvert(await createAdvert(calm.key, { cid: await cidOf('calm'), size: 1 })));
      await waitFor('the calm advert taken', () => accepted.some((a) => a.fromPeer === calm.id));
    });
  });
});

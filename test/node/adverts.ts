import { TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { entryId } from '../../src/lists/entry-id.js';
import { ADVERT_TOPIC, type RejectedAdvertEvent } from '../../src/node/adverts.js';
import { LocalList } from '../../src/node/local-list.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { GOSSIP_SCORE_THRESHOLDS } from '../../src/node/penalties.js';
import { createAdvert, encodeAdvert } from '../../src/node/protocol/advert.js';
import { record, waitFor } from './helpers/wait.js';
import { cidOf, newPeer, tamper } from './protocol/helpers.js';

describe('advert validation', () => {
  let node: NrpNode;
  let listedCid: CID;
  const rejected: RejectedAdvertEvent[] = [];
  /** Peers here deliver adverts without a connection, so whether each attested an edge is decided here. */
  const unattested = new Set<string>();

  beforeEach(async () => {
    listedCid = await cidOf('listed');
    node = await createNrpNode({
      lists: [new LocalList([entryId(listedCid)])],
      adverts: {
        autoFetch: false,
        ratePerSecond: 10,
        burst: 20,
        acceptFrom: async (peer) => !unattested.has(peer.toString()),
      },
    });
    rejected.length = 0;
    unattested.clear();
    node.adverts.addEventListener('rejected', ({ detail }) => rejected.push(detail));
  });
  afterEach(async () => {
    await node.stop();
  });

  async function deliver(from: Awaited<ReturnType<typeof newPeer>>, data: Uint8Array) {
    const validate = node.helia.libp2p.services.pubsub.topicValidators.get(ADVERT_TOPIC);
    if (!validate) throw new Error('no advert validator');
    return validate(peerIdFromPrivateKey(from.key), { type: 'unsigned', topic: ADVERT_TOPIC, data });
  }

  it('ignores a valid clean advert (no forwarding) and rejects malformed bytes', async () => {
    const peer = await newPeer();
    const advert = await createAdvert(peer.key, { cid: await cidOf('clean'), size: 5 });
    expect(await deliver(peer, encodeAdvert(advert))).to.equal(TopicValidatorResult.Ignore);
    expect(await deliver(peer, new Uint8Array([1, 2, 3]))).to.equal(TopicValidatorResult.Reject);
    expect(await deliver(peer, new Uint8Array(2048))).to.equal(TopicValidatorResult.Reject);
    expect(rejected.map((r) => r.reason)).to.deep.equal(['malformed', 'malformed']);
  });

  it('rejects an advert signed by someone other than the peer that sent it', async () => {
    const [sender, other] = [await newPeer(), await newPeer()];
    const advert = await createAdvert(other.key, { cid: await cidOf('clean'), size: 5 });
    expect(await deliver(sender, encodeAdvert(advert))).to.equal(TopicValidatorResult.Reject);
    expect(rejected[0].reason).to.equal('not-from-sender');
  });

  it('keeps a listed advert as evidence only if its signature verifies', async () => {
    const peer = await newPeer();
    const advert = encodeAdvert(await createAdvert(peer.key, { cid: listedCid, size: 6 }));
    const forged = tamper(advert, (value) => {
      (value.signature as Uint8Array)[0] ^= 0xff;
    });
    expect(await deliver(peer, forged)).to.equal(TopicValidatorResult.Reject);
    expect(rejected[0].reason).to.equal('bad-signature');
    expect(node.store.listEvidence()).to.deep.equal([]);

    expect(await deliver(peer, advert)).to.equal(TopicValidatorResult.Reject);
    const [evidence] = node.store.listEvidence();
    expect(evidence.fromPeer).to.equal(peerIdFromPrivateKey(peer.key).toString());
    expect(evidence.advert).to.deep.equal(advert);
  });

  it('refuses clean adverts from a peer that did not attest the connection, but keeps its listed ones as evidence', async () => {
    const peer = await newPeer();
    unattested.add(peerIdFromPrivateKey(peer.key).toString());
    const clean = await createAdvert(peer.key, { cid: await cidOf('clean'), size: 5 });
    expect(await deliver(peer, encodeAdvert(clean))).to.equal(TopicValidatorResult.Reject);
    expect(rejected.map((r) => r.reason)).to.deep.equal(['unattested']);
    const listed = encodeAdvert(await createAdvert(peer.key, { cid: listedCid, size: 6 }));
    expect(await deliver(peer, listed)).to.equal(TopicValidatorResult.Reject);
    expect(node.store.listEvidence().map((e) => e.advert)).to.deep.equal([listed]);
  });

  it('rejects a stale advert', async () => {
    const peer = await newPeer();
    const old = await createAdvert(peer.key, { cid: listedCid, size: 6, time: Date.now() - 3_600_000 });
    expect(await deliver(peer, encodeAdvert(old))).to.equal(TopicValidatorResult.Reject);
    expect(rejected[0].reason).to.equal('stale');
  });

  it('rate-limits a flood of adverts from one peer, and only that peer', async () => {
    const [flooder, calm] = [await newPeer(), await newPeer()];
    const results: TopicValidatorResult[] = [];
    for (let i = 0; i < 40; i++) {
      const advert = await createAdvert(flooder.key, { cid: await cidOf(`flood ${i}`), size: 1 });
      results.push(await deliver(flooder, encodeAdvert(advert)));
    }
    expect(results.filter((r) => r === TopicValidatorResult.Reject).length).to.be.within(15, 25);
    expect(rejected.every((r) => r.reason === 'rate-limited')).to.equal(true);
    const fine = await createAdvert(calm.key, { cid: await cidOf('calm'), size: 1 });
    expect(await deliver(calm, encodeAdvert(fine))).to.equal(TopicValidatorResult.Ignore);
  });
});

describe('gossipsub scoring of adverts', function () {
  this.timeout(60_000);
  const nodes: NrpNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  async function connected(count: number): Promise<NrpNode[]> {
    const started = await Promise.all(Array.from({ length: count }, () => createNrpNode({ adverts: { burst: 100 } })));
    nodes.push(...started);
    const [hub, ...others] = started;
    // All at once: libp2p's default limit of five connections a second from one address spares loopback.
    await Promise.all(others.map((other) => other.helia.libp2p.dial(hub.helia.libp2p.getMultiaddrs())));
    await waitFor('every node to hear of the others’ subscriptions', () =>
      others.every((other) =>
        other.helia.libp2p.services.pubsub.getSubscribers(ADVERT_TOPIC).some((p) => p.equals(hub.helia.libp2p.peerId)),
      ),
    );
    return started;
  }

  /** Gossipsub caches scores for a heartbeat (1 s): a new one shows within about a second. */
  const scoreOf = (node: NrpNode, peer: NrpNode) =>
    (node.helia.libp2p.services.pubsub as unknown as { getScore(peer: string): number }).getScore(
      peer.helia.libp2p.peerId.toString(),
    );

  it('counts rejected adverts against their sender: out of our gossip after a few, graylisted after many', async () => {
    const [node, sender, honest] = await connected(3);
    const rejectedFromSender = record<RejectedAdvertEvent>(node.adverts, 'rejected');
    const publish = (i: number) =>
      sender.helia.libp2p.services.pubsub.publish(ADVERT_TOPIC, new TextEncoder().encode(`not an advert ${i}`));
    for (let i = 0; i < 10; i++) await publish(i);
    await waitFor('ten rejections', () => rejectedFromSender.length >= 10);
    await waitFor('the sender to drop below the publish threshold', () => {
      return scoreOf(node, sender) < GOSSIP_SCORE_THRESHOLDS.publishThreshold;
    });
    expect(scoreOf(node, sender)).to.be.above(GOSSIP_SCORE_THRESHOLDS.graylistThreshold);
    for (let i = 10; i < 25; i++) await publish(i);
    await waitFor('25 rejections', () => rejectedFromSender.length >= 25);
    await waitFor('the sender to be graylisted', () => {
      return scoreOf(node, sender) < GOSSIP_SCORE_THRESHOLDS.graylistThreshold;
    });
    expect(rejectedFromSender.every((r) => r.reason === 'malformed')).to.equal(true);
    expect(scoreOf(node, honest), 'a peer that sent nothing wrong').to.equal(0);
  });

  it('does not count many peers on loopback against each other', async () => {
    // Gossipsub's IP colocation penalty starts past ten peers on one address.
    const [hub, ...peers] = await connected(13);
    // Past a heartbeat, so the scores are computed with all of them connected.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const peer of peers) expect(scoreOf(hub, peer)).to.equal(0);
  });
});

import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { syncedRegistry, VerdictPublisher } from './helpers/verdict-publisher.js';
import { waitFor } from './helpers/wait.js';

// The whole node (createNrpNode) against rating servers registered and activated on chain.
describe('a node following rating servers', function () {
  this.timeout(60_000);
  const nodes: NrpNode[] = [];
  const publishers: VerdictPublisher[] = [];

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    await Promise.all(publishers.splice(0).map((p) => p.stop()));
  });

  it('disconnects a peer a high-priority server blacks, and only delays it when the server is low-priority', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const high = await VerdictPublisher.start({ dao });
    const low = await VerdictPublisher.start({ dao });
    publishers.push(high, low);
    const registry = await syncedRegistry(dao);

    const bad = await createNrpNode();
    const strict = await createNrpNode({
      registry,
      ratingServers: [high.followed('high')],
      ratings: { intervalMs: 3_600_000 },
    });
    const lenient = await createNrpNode({
      registry,
      ratingServers: [low.followed('low')],
      ratings: { intervalMs: 3_600_000 },
      penalties: { delayMs: 1_500 },
    });
    nodes.push(bad, strict, lenient);
    await bad.helia.libp2p.dial(strict.helia.libp2p.getMultiaddrs());
    await bad.helia.libp2p.dial(lenient.helia.libp2p.getMultiaddrs());
    const badId = bad.helia.libp2p.peerId;

    await high.publish([high.verdict(toPeerIdBytes(badId), 'black', 60_000)]);
    await low.publish([low.verdict(toPeerIdBytes(badId), 'black', 60_000)]);
    await strict.ratings.pollOnce();
    await lenient.ratings.pollOnce();

    // High priority: cut off, and no way back in while the verdict lasts.
    await waitFor('the strict node to hang up', () => strict.helia.libp2p.getConnections(badId).length === 0);
    expect(strict.penalties.penaltyOf(badId)).to.deep.include({ kind: 'disconnect' });
    expect(strict.penalties.penaltyOf(badId).because[0]).to.deep.include({ server: high.peerId, rating: 'black' });
    await bad.helia.libp2p.dial(strict.helia.libp2p.getMultiaddrs()).then(
      () => waitFor('the reconnection to be dropped', () => strict.helia.libp2p.getConnections(badId).length === 0),
      () => undefined,
    );
    expect(strict.helia.libp2p.getConnections(badId)).to.have.length(0);

    // Low priority: still connected, its adverts arrive late but arrive.
    expect(lenient.helia.libp2p.getConnections(badId)).to.have.length.greaterThan(0);
    expect(lenient.penalties.penaltyOf(badId).kind).to.equal('delay');
    await waitFor('gossipsub to see the topic', () =>
      bad.helia.libp2p.services.pubsub
        .getSubscribers('nrp/adverts/1')
        .some((p) => p.equals(lenient.helia.libp2p.peerId)),
    );
    const bytes = new TextEncoder().encode('shared by a delayed peer');
    const cid = await unixfs(bad.helia).addBytes(bytes);
    const started = Date.now();
    await bad.adverts.share(cid, bytes.length);
    await waitFor('the file at the lenient node', () => lenient.store.hasContent(cid.toString()));
    expect(Date.now() - started).to.be.at.least(1_500);
  });
});

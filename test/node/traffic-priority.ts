import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { TrafficPriority } from '../../src/node/traffic-priority.js';
import { record, waitFor } from './helpers/wait.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Urgent work that runs until `finish` is called. */
function holdUrgent(priority: TrafficPriority) {
  let finish = () => {};
  const running = priority.urgent(() => new Promise<void>((resolve) => (finish = resolve)));
  return { running, finish: () => finish() };
}

describe('traffic priority', function () {
  this.timeout(60_000);

  it('holds content fetches while any urgent work runs, and lets them go when the last one ends', async () => {
    const priority = new TrafficPriority();
    await priority.idle(); // nothing urgent: at once
    const [first, second] = [holdUrgent(priority), holdUrgent(priority)];
    let resumed = false;
    const waiting = priority.idle().then(() => {
      resumed = true;
    });
    first.finish();
    await first.running;
    await sleep(20);
    expect(resumed, 'one urgent job still runs').to.equal(false);
    second.finish();
    await Promise.all([second.running, waiting]);
    expect(resumed).to.equal(true);
    expect(priority.busy).to.equal(false);
  });

  it('holds a content fetch no longer than maxHoldMs, even behind urgent work that never ends', async () => {
    const priority = new TrafficPriority({ maxHoldMs: 200 });
    const stuck = holdUrgent(priority);
    const started = Date.now();
    await priority.idle();
    expect(Date.now() - started).to.be.within(150, 2_000);
    expect(priority.busy, 'the urgent work still runs').to.equal(true);
    stuck.finish();
    await stuck.running;
  });

  it('passes on urgent work’s result or failure, and ends the hold either way', async () => {
    const priority = new TrafficPriority();
    expect(await priority.urgent(async () => 42)).to.equal(42);
    const failure = await priority.urgent(() => Promise.reject(new Error('fetch failed'))).catch((e: Error) => e);
    expect((failure as Error).message).to.equal('fetch failed');
    expect(priority.busy).to.equal(false);
  });

  it('stops waiting when aborted, and forgets the waiter', async () => {
    const priority = new TrafficPriority();
    const held = holdUrgent(priority);
    const controller = new AbortController();
    const waiting = priority.idle({ signal: controller.signal }).catch((e: Error) => e);
    controller.abort(new Error('node stopping'));
    expect(((await waiting) as Error).message).to.equal('node stopping');
    held.finish();
    await held.running;
    const aborted = new AbortController();
    aborted.abort();
    const refused = await priority.idle({ signal: aborted.signal }).catch((e: Error) => e);
    expect(refused).to.be.instanceOf(Error);
  });

  describe('on real nodes', () => {
    const nodes: NrpNode[] = [];
    afterEach(async () => {
      await Promise.all(nodes.splice(0).map((node) => node.stop()));
    });

    it('a node fetches advertised content only once its list or verdict traffic is in', async () => {
      const priority = new TrafficPriority();
      const [sharer, fetcher] = await Promise.all([createNrpNode(), createNrpNode({ priority })]);
      nodes.push(sharer, fetcher);
      await fetcher.helia.libp2p.dial(sharer.helia.libp2p.getMultiaddrs());
      await waitFor(
        'each to hear of the other’s subscription',
        () =>
          sharer.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0 &&
          fetcher.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0,
      );
      const content = record<{ cid: { toString(): string } }>(fetcher.adverts, 'content');
      const accepted = record<unknown>(fetcher.adverts, 'accepted');

      // A list version is on its way (urgent) when the advert arrives.
      const listVersion = holdUrgent(priority);
      const bytes = new TextEncoder().encode('clean content, shared during a list sync');
      const cid = await unixfs(sharer.helia).addBytes(bytes);
      await sharer.adverts.share(cid, bytes.length);
      await waitFor('the advert to pass the fetcher’s checks', () => accepted.length > 0);
      await sleep(500);
      expect(content, 'no content fetch while the list version is on its way').to.deep.equal([]);
      expect(await fetcher.helia.blockstore.has(cid)).to.equal(false);

      listVersion.finish();
      await listVersion.running;
      await waitFor('the content once the list version is in', () => content.length > 0);
      expect(content[0].cid.toString()).to.equal(cid.toString());
    });
  });
});

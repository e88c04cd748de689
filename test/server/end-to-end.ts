import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import { registerServer, serverStatusCall } from '../../src/chain/registry.js';
import { RegistrySync } from '../../src/chain/registry-sync.js';
import { pinRoot } from '../../src/ipfs/pins.js';
import { entryId } from '../../src/lists/entry-id.js';
import { ListSync } from '../../src/lists/sync.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { toPeerIdBytes } from '../../src/node/protocol/peer.js';
import type { ServerPriority } from '../../src/node/ratings.js';
import { createRatingServer, type RatingServer } from '../../src/server/server.js';
import { publicClient, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { waitFor } from '../node/helpers/wait.js';
import { governance, POLICY_CID, publishListVersion } from './helpers/governance.js';

const ADVERT_TOPIC = 'nrp/adverts/1';

/**
 * The product's main promise, on the in-process chain with real nodes and a real server: a vote lists content;
 * a node that keeps distributing it and reports to nobody is rated black from its neighbours' evidence; nodes
 * that follow the server at high priority cut it off, those at low priority slow it down.
 */
describe('end to end: listing by vote gets a distributor rated black and penalised', function () {
  this.timeout(180_000);
  const cleanups: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('rates the distributor black, and high-priority followers disconnect it while low-priority ones delay it', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const dir = await mkdtemp(join(tmpdir(), 'nrp-e2e-'));
    cleanups.push(() => removeDir(dir));

    // 1. The rating server, registered on chain and activated by a vote.
    const server: RatingServer = await createRatingServer(
      {
        dataDir: join(dir, 'server'),
        list: dao.list,
        chainId: 31337,
        fromBlock: 0n,
        sync: { pollIntervalMs: 200, fetchTimeoutMs: 5_000, retryDelayMs: 200, maxRetryDelayMs: 1_000 },
        inferenceIntervalMs: 500,
      },
      { client: publicClient },
    );
    cleanups.push(() => server.stop());
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: toPeerIdBytes(server.peerId),
      multiaddrs: server.getMultiaddrs(),
      policyCid: POLICY_CID,
      list: dao.list,
    });
    await governance(dao, [serverStatusCall(dao.registry, serverId, 'active')], 'Activate the test rating server', {
      vote: true,
    });
    const registry = new RegistrySync(
      { registry: dao.registry, chainId: 31337, fromBlock: 0n },
      { client: publicClient },
    );
    await registry.syncOnce();
    expect(registry.isActiveKey(toPeerIdBytes(server.peerId))).to.equal(true);

    // 2. Six honest nodes in a ring, 0–2 following the server at high priority, 3–5 at low; every one reports.
    const honest: NrpNode[] = [];
    const syncs: ListSync[] = [];
    for (let i = 0; i < 6; i++) {
      const priority: ServerPriority = i < 3 ? 'high' : 'low';
      // The node's blockstore exists only once the node does: the sync reaches it through a late binding.
      let node: NrpNode | undefined;
      const sync = new ListSync(
        { list: dao.list, chainId: 31337, fromBlock: 0n, fetchTimeoutMs: 5_000, retryDelayMs: 200 },
        {
          client: publicClient,
          blockstore: { get: (cid, o) => (node as NrpNode).helia.blockstore.get(cid, o) },
          pin: (cid, o) => pinRoot((node as NrpNode).helia, cid, o),
        },
      );
      node = await createNrpNode({
        lists: [sync],
        registry,
        ratingServers: [{ peerId: server.peerId, multiaddrs: server.getMultiaddrs(), priority }],
        ratings: { intervalMs: 1_000, timeoutMs: 5_000 },
        reporter: { servers: [{ peerId: server.peerId, multiaddrs: server.getMultiaddrs() }], intervalMs: 2_000 },
        penalties: { delayMs: 500 },
      });
      cleanups.push(() => (node as NrpNode).stop());
      honest.push(node);
      syncs.push(sync);
    }
    // The distributor enforces no list, reports to nobody and follows no server.
    const distributor = await createNrpNode({ adverts: { autoFetch: false } });
    cleanups.push(() => distributor.stop());
    const distributorId = distributor.helia.libp2p.peerId;
    const dial = (from: NrpNode, to: NrpNode) => from.helia.libp2p.dial(to.helia.libp2p.getMultiaddrs());
    for (let i = 0; i < 6; i++) await dial(honest[(i + 1) % 6], honest[i]);
    const high = [honest[1], honest[2]];
    const low = [honest[4], honest[5]];
    for (const neighbour of [...high, ...low]) await dial(distributor, neighbour);
    // Every node also talks to the server (it reports and polls anyway): the server fetches payloads from them.
    for (const node of honest) await node.helia.libp2p.dial(server.helia.libp2p.getMultiaddrs());
    await waitFor('gossipsub to see the advert topic', () =>
      [...honest, distributor].every((n) => n.helia.libp2p.services.pubsub.getSubscribers(ADVERT_TOPIC).length > 0),
    );
    await waitFor('the distributor edges attested by both ends', () =>
      [...high, ...low].every((n) => n.edges.edgeWith(distributorId) !== undefined),
    );

    // 3. A vote lists the content (the payload is pinned by node 0, the proposer); the server and all nodes sync.
    const bytes = new TextEncoder().encode('content everyone agrees must go');
    const cid = await unixfs(distributor.helia).addBytes(bytes);
    await publishListVersion(dao, honest[0].helia.blockstore, {
      version: 1,
      ids: [entryId(cid)],
      added: 1,
      removed: 0,
      vote: true,
    });
    await waitFor('the server to sync the list', () => server.list.current.version === 1n);
    await waitFor('every node to sync the list', async () => {
      await Promise.all(syncs.filter((s) => s.current.version === 0n).map((s) => s.syncOnce()));
      return syncs.every((s) => s.current.version === 1n);
    });
    for (const node of honest) expect(node.isListed(cid)).to.equal(true);
    expect(distributor.isListed(cid)).to.equal(false);

    // 4. The distributor shares it; its neighbours refuse it, keep its signed advert and report it.
    await distributor.adverts.share(cid, bytes.length, 'bad.txt');
    await waitFor('evidence at every neighbour of the distributor', () =>
      [...high, ...low].every((n) => n.store.listEvidence({ fromPeer: distributorId.toString() }).length > 0),
    );
    for (const node of honest) expect(node.store.hasContent(cid.toString())).to.equal(false);
    await Promise.all(honest.map((node) => node.reporter.report()));
    await Promise.all(honest.map((node) => node.reporter.flush({ signal: AbortSignal.timeout(20_000) })));
    await waitFor('the sightings at the server', () => server.store.stats().sightings >= 4);
    const { snapshot, verdicts } = await server.infer();
    expect(verdicts.map((v) => [v.peer, v.rating])).to.deep.equal([[distributorId.toString(), 'black']]);
    const [verdict] = verdicts;
    expect(verdict.reason).to.match(/does not report to this server/);
    expect(verdict.evidence).to.have.length(4);
    expect(snapshot.verdicts).to.have.length(1);
    for (const node of honest) {
      const id = node.helia.libp2p.peerId.toString();
      expect(
        verdicts.some((v) => v.peer === id),
        `no verdict on honest node ${id}`,
      ).to.equal(false);
    }
    const topology = (await (await fetch(`${server.httpUrl}/topology`)).json()) as {
      nodes: { peer: string; reporting: boolean; rating?: string }[];
    };
    const onMap = new Map(topology.nodes.map((n) => [n.peer, n]));
    expect(onMap.get(distributorId.toString())).to.include({ reporting: false, rating: 'black' });
    for (const node of honest) expect(onMap.get(node.helia.libp2p.peerId.toString())?.reporting).to.equal(true);

    // 5. Every node takes the snapshot; the distributor's high-priority neighbours cut it off for good.
    await Promise.all(honest.map((node) => node.ratings.pollOnce()));
    for (const node of honest) expect(node.ratings.servers[0].seq).to.equal(snapshot.seq);
    await waitFor('the high-priority neighbours to hang up', () =>
      high.every((n) => n.helia.libp2p.getConnections(distributorId).length === 0),
    );
    for (const node of high) {
      const penalty = node.penalties.penaltyOf(distributorId);
      expect(penalty.kind).to.equal('disconnect');
      expect(penalty.because[0]).to.deep.include({ server: server.peerId, priority: 'high', rating: 'black' });
      expect(penalty.because[0].evidence).to.deep.equal(verdict.evidence);
      await distributor.helia.libp2p.dial(node.helia.libp2p.getMultiaddrs()).then(
        () =>
          waitFor('the reconnection to be dropped', () => node.helia.libp2p.getConnections(distributorId).length === 0),
        () => undefined,
      );
      expect(node.helia.libp2p.getConnections(distributorId)).to.have.length(0);
    }
    // The low-priority ones keep it, delayed.
    for (const node of low) {
      expect(node.penalties.penaltyOf(distributorId)).to.deep.include({ kind: 'delay' });
      expect(node.helia.libp2p.getConnections(distributorId), 'still connected').to.have.length.greaterThan(0);
    }
    // What the distributor shares still reaches them, but late.
    const clean = new TextEncoder().encode('a clean file, shared by a penalised peer');
    const cleanCid = await unixfs(distributor.helia).addBytes(clean);
    const sharedAt = Date.now();
    await distributor.adverts.share(cleanCid, clean.length, 'clean.txt');
    await waitFor('the clean file at the low-priority neighbours', () =>
      low.every((n) => n.store.hasContent(cleanCid.toString())),
    );
    expect(Date.now() - sharedAt).to.be.at.least(500);
    // Nobody penalises an honest node.
    for (const node of honest) {
      for (const other of honest) {
        expect(node.penalties.penaltyOf(other.helia.libp2p.peerId).kind).to.equal('none');
      }
    }
  });
});

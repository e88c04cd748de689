import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import { expect } from 'chai';
import type { CID } from 'multiformats/cid';
import { type Address, custom } from 'viem';
import { createNrpClients } from '../../src/chain/clients.js';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { entryId } from '../../src/lists/entry-id.js';
import { encodePayload } from '../../src/lists/payload.js';
import { packIds } from '../../src/lists/set-ops.js';
import { ListSync } from '../../src/lists/sync.js';
import type { RejectedAdvertEvent } from '../../src/node/adverts.js';
import { EDGE_PROTOCOL } from '../../src/node/edges.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { peerIdToString } from '../../src/node/protocol/peer.js';
import { connection, daoFixture, ethers, networkHelpers, passProposal, proposal } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { ReportReceiver } from './helpers/report-receiver.js';

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('node distribution and enforcement', function () {
  this.timeout(120_000);
  const nodes: NrpNode[] = [];
  const syncs: ListSync[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    // libp2p may still be writing a peer record as the last connections close: retry rather than race it.
    await Promise.all(dirs.splice(0).map((d) => removeDir(d)));
    syncs.splice(0);
  });

  async function connect(a: NrpNode, b: NrpNode) {
    await b.helia.libp2p.dial(a.helia.libp2p.getMultiaddrs());
  }

  /**
   * Six honest nodes in a ring with one chord, each enforcing the DAO's list, and a distributor that enforces
   * nothing (and will report to nobody), connected to nodes 2 and 4.
   */
  async function network(options: { dataDirs?: boolean } = {}) {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const list = (await dao.list.getAddress()) as Address;
    const fromBlock = BigInt(await ethers.provider.getBlockNumber());
    const { publicClient } = createNrpClients({ transport: custom(connection.provider, { retryCount: 0 }) });
    const honest: NrpNode[] = [];
    for (let i = 0; i < 6; i++) {
      const dataDir = options.dataDirs ? await mkdtemp(join(tmpdir(), `nrp-node-${i}-`)) : undefined;
      if (dataDir) dirs.push(dataDir);
      // The node's blockstore exists only once the node does, so the sync is created with a late-bound store.
      let node: NrpNode | undefined;
      const sync = new ListSync(
        { list, chainId: 31337, fromBlock, fetchTimeoutMs: 5_000, retryDelayMs: 200 },
        {
          client: publicClient,
          blockstore: { get: (cid, o) => (node as NrpNode).helia.blockstore.get(cid, o) },
        },
      );
      node = await createNrpNode({ dataDir, lists: [sync] });
      nodes.push(node);
      syncs.push(sync);
      honest.push(node);
    }
    for (let i = 0; i < 6; i++) await connect(honest[i], honest[(i + 1) % 6]);
    await connect(honest[0], honest[3]);
    const distributor = await createNrpNode({ adverts: { autoFetch: false } });
    nodes.push(distributor);
    await connect(honest[2], distributor);
    await connect(honest[4], distributor);
    // Let gossipsub learn who subscribes to the advert topic.
    await waitFor('topic peers', () =>
      nodes.every((n) => n.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0),
    );
    return { dao, list, honest, distributor };
  }

  async function addFile(node: NrpNode, text: string): Promise<{ cid: CID; size: number }> {
    const bytes = new TextEncoder().encode(text);
    const cid = await unixfs(node.helia).addBytes(bytes);
    await node.adverts.share(cid, bytes.length, `${text.slice(0, 10)}.txt`);
    return { cid, size: bytes.length };
  }

  /** Lists `cids` by a real governance vote, with the payload held by `holder`, then syncs every node. */
  async function listByVote(dao: Awaited<ReturnType<typeof daoFixture>>, list: Address, holder: NrpNode, cids: CID[]) {
    const ids = packIds(cids.map((cid) => entryId(cid)));
    const payload = await encodePayload(holder.helia.blockstore, {
      chainId: 31337,
      list,
      version: 1,
      ids,
      added: cids.length,
      removed: 0,
    });
    const p = proposal(
      [
        {
          target: list,
          iface: dao.list.interface,
          method: 'publishVersion',
          args: [0n, payload.header.root, cids.length, cids.length, 0n, payload.cid.bytes],
        },
      ],
      'List the bad file',
    );
    await passProposal(dao, p);
    await Promise.all(syncs.map((s) => s.syncOnce()));
    await waitFor('every node to sync the list', async () => {
      await Promise.all(syncs.filter((s) => s.current.version === 0n).map((s) => s.syncOnce()));
      return syncs.every((s) => s.current.version === 1n);
    });
  }

  it('spreads clean content added at one node to every node, each re-advertising under its own key', async () => {
    const { honest } = await network();
    const { cid } = await addFile(honest[0], 'a perfectly clean file');
    await waitFor('the file at every honest node', () => honest.every((n) => n.store.hasContent(cid.toString())));
    for (const node of honest.slice(1)) {
      const record = node.store.listContent().find((c) => c.cid === cid.toString());
      expect(record?.fromPeer, 'each node names the neighbour it got it from').to.be.a('string');
      const bytes = await unixfs(node.helia).cat(cid);
      let text = '';
      for await (const chunk of bytes) text += new TextDecoder().decode(chunk);
      expect(text).to.equal('a perfectly clean file');
    }
  });

  it('after a vote lists it: drops cached copies, refuses new adverts, serves it to nobody, keeps evidence', async () => {
    const { dao, list, honest, distributor } = await network();
    const bad = await addFile(honest[1], 'content everyone agrees must go');
    await waitFor('the file everywhere', () => honest.every((n) => n.store.hasContent(bad.cid.toString())));

    await listByVote(dao, list, honest[5], [bad.cid]);
    await waitFor('cached copies dropped', () => honest.every((n) => !n.store.hasContent(bad.cid.toString())));
    for (const node of honest) {
      expect(node.isListed(bad.cid)).to.equal(true);
      expect(await node.helia.blockstore.has(bad.cid)).to.equal(false);
    }

    // The distributor, which enforces nothing, keeps pushing it to nodes 2 and 4.
    const sightings: string[] = [];
    for (const node of honest)
      node.adverts.addEventListener('sighting', ({ detail }) => sightings.push(detail.fromPeer));
    const bytes = new TextEncoder().encode('content everyone agrees must go');
    await unixfs(distributor.helia).addBytes(bytes);
    await distributor.adverts.share(bad.cid, bytes.length, 'again.txt');
    await waitFor('both neighbours to record evidence', () => sightings.length >= 2);
    const distributorId = distributor.helia.libp2p.peerId.toString();
    expect(new Set(sightings)).to.deep.equal(new Set([distributorId]));
    for (const node of [honest[2], honest[4]]) {
      const [evidence] = node.store.listEvidence({ fromPeer: distributorId });
      expect(evidence.cid).to.equal(bad.cid.toString());
      expect(evidence.entryId).to.deep.equal(entryId(bad.cid));
    }

    // The evidence goes into node 2's next report to the rating server it follows.
    const server = await createNrpHelia();
    try {
      const receiver = await ReportReceiver.start(server.libp2p);
      honest[2].reporter.setServers([
        { peerId: server.libp2p.peerId.toString(), multiaddrs: server.libp2p.getMultiaddrs().map(String) },
      ]);
      await honest[2].reporter.report();
      await waitFor('the report to arrive', () => receiver.accepted.length > 0);
      const [report] = receiver.accepted;
      const sighting = report.sightings.find((s) => s.cid.equals(bad.cid));
      expect(sighting, 'the sighting of the listed content').to.not.equal(undefined);
      expect(peerIdToString(sighting?.fromPeer as Uint8Array)).to.equal(distributorId);
      expect(report.edges.length, 'the edges node 2 attested').to.be.greaterThan(0);
    } finally {
      await server.stop();
    }
    // Nobody fetched it back, and no honest node will hand it out.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const node of honest) expect(node.store.hasContent(bad.cid.toString())).to.equal(false);
    const probe = await unixfs(honest[0].helia)
      .cat(bad.cid, { signal: AbortSignal.timeout(1_000) })
      [Symbol.asyncIterator]()
      .next()
      .then(
        () => 'served',
        (error: Error) => error.name,
      );
    expect(probe).to.not.equal('served');
  });

  it('advertises recent content again to a neighbour that joins later', async () => {
    const early = await createNrpNode();
    const late = await createNrpNode();
    nodes.push(early, late);
    const { cid } = await addFile(early, 'shared before anyone was listening');
    await connect(early, late);
    await waitFor('the late neighbour to get it', () => late.store.hasContent(cid.toString()));
  });

  it('takes nothing from a neighbour that will not sign an edge attestation, and counts its adverts as invalid', async () => {
    const evasive = await createNrpNode();
    const honest = await createNrpNode();
    const witness = await createNrpNode();
    nodes.push(evasive, honest, witness);
    // A modified client: it gossips adverts but never countersigns an edge, so no server could ever blame it.
    await evasive.edges.stop();
    await evasive.helia.libp2p.unhandle(EDGE_PROTOCOL);
    const rejected: RejectedAdvertEvent[] = [];
    honest.adverts.addEventListener('rejected', ({ detail }) => rejected.push(detail));
    await connect(evasive, honest);
    await connect(witness, honest);
    await waitFor('the advert topic', () =>
      [evasive, witness].every((n) => n.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0),
    );
    const unaccountable = await addFile(evasive, 'from a peer that signs no edges');
    const accountable = await addFile(witness, 'from a peer that signs its edges');
    await waitFor('the accountable file', () => honest.store.hasContent(accountable.cid.toString()));
    await waitFor('the refusal', () => rejected.some((r) => r.fromPeer === evasive.helia.libp2p.peerId.toString()));
    expect(rejected.find((r) => r.fromPeer === evasive.helia.libp2p.peerId.toString())?.reason).to.equal('unattested');
    expect(honest.store.hasContent(unaccountable.cid.toString())).to.equal(false);
    expect(honest.edges.edgeWith(witness.helia.libp2p.peerId), 'the accountable neighbour attested').to.not.equal(
      undefined,
    );
  });

  it('exchanges an advert and the file it offers over WebSockets alone', async () => {
    const ws = ['/ip4/127.0.0.1/tcp/0/ws'];
    const sharer = await createNrpNode({ listen: ws });
    const fetcher = await createNrpNode({ listen: ws });
    nodes.push(sharer, fetcher);
    for (const node of [sharer, fetcher]) {
      expect(node.helia.libp2p.getMultiaddrs().map(String)).to.satisfy((addresses: string[]) =>
        addresses.every((address) => address.includes('/tcp/') && address.includes('/ws/')),
      );
    }
    await connect(sharer, fetcher);
    await waitFor(
      'the advert topic',
      () => sharer.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0,
    );
    const { cid } = await addFile(sharer, 'carried over websockets');
    await waitFor('the file at the other node', () => fetcher.store.hasContent(cid.toString()));
    const record = fetcher.store.listContent().find((c) => c.cid === cid.toString());
    expect(record?.fromPeer).to.equal(sharer.helia.libp2p.peerId.toString());
    const connections = fetcher.helia.libp2p.getConnections(sharer.helia.libp2p.peerId);
    expect(connections.map((c) => c.remoteAddr.toString())).to.satisfy(
      (addresses: string[]) => addresses.length > 0 && addresses.every((address) => address.includes('/ws')),
    );
  });

  it('refuses to share listed content, and keeps content and evidence across a restart', async () => {
    const { dao, list, honest, distributor } = await network({ dataDirs: true });
    const bad = await addFile(distributor, 'pushed before and after listing');
    await waitFor('the file at the honest nodes', () => honest.every((n) => n.store.hasContent(bad.cid.toString())));
    await listByVote(dao, list, honest[0], [bad.cid]);
    await honest[3].adverts.share(bad.cid, bad.size).then(
      () => expect.fail('shared listed content'),
      (error) => expect(error.name).to.equal('ListedContentError'),
    );
    await distributor.adverts.share(bad.cid, bad.size, 'again.txt').catch(() => {});
    await waitFor('evidence at node 2', () => honest[2].store.listEvidence().length > 0);
    const before = honest[2].store.listEvidence();
    const clean = await addFile(honest[2], 'clean and kept');
    const peerId = honest[2].helia.libp2p.peerId.toString();

    // Restart node 2 on its data dir: same identity, same content, same evidence.
    await honest[2].stop();
    nodes.splice(nodes.indexOf(honest[2]), 1);
    const restarted = await createNrpNode({ dataDir: dirs[2] });
    nodes.push(restarted);
    expect(restarted.helia.libp2p.peerId.toString()).to.equal(peerId);
    expect(restarted.store.hasContent(clean.cid.toString())).to.equal(true);
    expect(await restarted.helia.blockstore.has(clean.cid)).to.equal(true);
    expect(restarted.store.listEvidence()).to.deep.equal(before);
  });
});

import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODE_P2P } from '@multiformats/multiaddr';
import { expect } from 'chai';
import type { Blockstore } from 'interface-blockstore';
import {
  createNrpHelia,
  InvalidNrpHeliaOptionError,
  ListenFailedError,
  type NrpHelia,
  type NrpHeliaInit,
} from '../../src/ipfs/helia.js';
import { enforcingBlockstore } from '../../src/node/enforcing-blockstore.js';
import { removeDir } from '../helpers/dirs.js';
import { cborBlock, getBlock } from './helpers.js';

describe('createNrpHelia', function () {
  this.timeout(20_000);

  // biome-ignore lint/suspicious/noExplicitAny: nodes with any extra services
  let nodes: NrpHelia<any>[] = [];
  let dirs: string[] = [];

  async function startNode<S extends Record<string, unknown>>(init: NrpHeliaInit<S> = {}): Promise<NrpHelia<S>> {
    const node = await createNrpHelia(init);
    nodes.push(node);
    return node;
  }

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'nrp-helia-'));
    dirs.push(dir);
    return dir;
  }

  /** Connect `from` to `to` through `to`'s listening addresses, as a node does with a peer it was told about. */
  async function connect(from: NrpHelia, to: NrpHelia): Promise<void> {
    await from.libp2p.dial(to.libp2p.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) });
  }

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(dirs.map((dir) => removeDir(dir)));
    nodes = [];
    dirs = [];
  });

  it('listens on loopback only by default and announces its peer id in its multiaddrs', async () => {
    const node = await startNode();
    const addresses = node.libp2p.getMultiaddrs().map(String);
    expect(addresses).to.have.length(1);
    expect(addresses[0]).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/);
    expect(addresses[0]).to.contain(node.libp2p.peerId.toString());
  });

  it('moves a dag-cbor block from one node to another over bitswap', async () => {
    const a = await startNode();
    const b = await startNode();
    await connect(b, a);
    const block = await cborBlock({ hello: 'world', n: 1 });
    await a.blockstore.put(block.cid, block.bytes);

    const got = await getBlock(b.blockstore, block.cid, { signal: AbortSignal.timeout(5_000) });
    expect(got).to.deep.equal(block.bytes);
    // B keeps what it fetched, so it can serve it in turn.
    expect(await b.blockstore.has(block.cid)).to.equal(true);
  });

  it('tells connected peers of a protocol it starts handling later, so a peer that dialled early learns of it', async () => {
    const a = await startNode();
    const b = await startNode();
    const identified = new Promise((resolve) => b.libp2p.addEventListener('peer:identify', resolve, { once: true }));
    await connect(b, a);
    // Only once b has identified a: what a handles from now on reaches b only if a pushes it.
    await identified;
    const LATE = '/nrp/test-late/1.0.0';
    await a.libp2p.handle(LATE, (stream) => stream.abort(new Error('not used')));
    const deadline = Date.now() + 5_000;
    let protocols: string[] = [];
    while (!protocols.includes(LATE) && Date.now() < deadline) {
      protocols = (await b.libp2p.peerStore.get(a.libp2p.peerId)).protocols;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(protocols).to.include(LATE);
  });

  it('keeps blocks and its peer id across restarts when given a data folder', async () => {
    const dataDir = await tempDir();
    const block = await cborBlock({ kept: true });

    const first = await createNrpHelia({ dataDir });
    let peerId: string;
    try {
      peerId = first.libp2p.peerId.toString();
      await first.blockstore.put(block.cid, block.bytes);
    } finally {
      await first.stop();
    }

    const second = await startNode({ dataDir });
    expect(second.libp2p.peerId.toString()).to.equal(peerId);
    expect(await getBlock(second.blockstore, block.cid, { signal: AbortSignal.timeout(1_000) })).to.deep.equal(
      block.bytes,
    );
    expect((await stat(join(dataDir, 'peer.key'))).mode & 0o777).to.equal(0o600);
    expect((await stat(join(dataDir, 'blocks'))).isDirectory()).to.equal(true);
    expect((await stat(join(dataDir, 'datastore'))).isDirectory()).to.equal(true);
  });

  it('gives every node without a data folder a fresh peer id', async () => {
    const a = await startNode();
    const b = await startNode();
    expect(a.libp2p.peerId.equals(b.libp2p.peerId)).to.equal(false);
  });

  it('never serves a block its wrapped blockstore refuses, and still serves the others', async () => {
    const refused = await cborBlock({ listed: true });
    const allowed = await cborBlock({ listed: false });
    let inner: Blockstore | undefined;
    const a = await startNode({
      wrapBlockstore: (store) => {
        inner = store;
        return enforcingBlockstore(store, (cid) => cid.equals(refused.cid));
      },
    });
    const b = await startNode();
    await connect(b, a);
    await a.blockstore.put(allowed.cid, allowed.bytes);
    // Store the refused block under the wrapper, as if it had been on disk before it was listed.
    await inner?.put(refused.cid, refused.bytes);
    expect(await inner?.has(refused.cid)).to.equal(true);

    // Ask for both at once, so A answers them in one batch.
    const [refusedResult, allowedResult] = await Promise.allSettled([
      getBlock(b.blockstore, refused.cid, { signal: AbortSignal.timeout(1_000) }),
      getBlock(b.blockstore, allowed.cid, { signal: AbortSignal.timeout(5_000) }),
    ]);
    expect(allowedResult).to.deep.equal({ status: 'fulfilled', value: allowed.bytes });
    expect(refusedResult.status).to.equal('rejected');
    expect(await b.blockstore.has(refused.cid)).to.equal(false);
  });

  it('holds the blocks it serves to a peer for as long as serveDelay says, while other peers get them at once', async () => {
    let slow = '';
    const asked: string[] = [];
    const a = await startNode({
      serveDelay: (peer) => {
        asked.push(peer.toString());
        return peer.toString() === slow ? 1_500 : 0;
      },
    });
    const [b, c] = [await startNode(), await startNode()];
    slow = b.libp2p.peerId.toString();
    // B and C know only A, so each gets the block from A and from nobody else.
    await connect(b, a);
    await connect(c, a);
    const block = await cborBlock({ served: 'late to one peer' });
    await a.blockstore.put(block.cid, block.bytes);
    const timed = async (node: NrpHelia) => {
      const start = Date.now();
      const bytes = await getBlock(node.blockstore, block.cid, { signal: AbortSignal.timeout(10_000) });
      return { bytes, ms: Date.now() - start };
    };

    const [late, prompt] = await Promise.all([timed(b), timed(c)]);
    expect(late.bytes).to.deep.equal(block.bytes);
    expect(prompt.bytes).to.deep.equal(block.bytes);
    expect(late.ms).to.be.at.least(1_500);
    expect(prompt.ms).to.be.below(1_000);
    expect(asked).to.include.members([b.libp2p.peerId.toString(), c.libp2p.peerId.toString()]);
  });

  it('stops at once while it holds blocks for a peer, and that peer never gets them', async () => {
    const a = await createNrpHelia({ serveDelay: () => 30_000 });
    const b = await startNode();
    await connect(b, a);
    const block = await cborBlock({ served: 'never' });
    await a.blockstore.put(block.cid, block.bytes);
    const fetching = getBlock(b.blockstore, block.cid, { signal: AbortSignal.timeout(3_000) });
    await waitFor(() => a.libp2p.getConnections(b.libp2p.peerId).length > 0, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const stopping = Date.now();
    await a.stop();
    expect(Date.now() - stopping).to.be.below(5_000);
    // Whatever B's bitswap makes of a provider that went away, it has no block.
    expect(await rejection(fetching)).to.be.instanceOf(Error);
    expect(await b.blockstore.has(block.cid)).to.equal(false);
  });

  it('listens on and dials WebSockets addresses when told to, and still moves blocks over them', async () => {
    const a = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] });
    const b = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] });
    const addresses = a.libp2p.getMultiaddrs().map(String);
    expect(addresses).to.have.length(1);
    expect(addresses[0]).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3Koo/);
    await connect(b, a);
    const [connection] = b.libp2p.getConnections(a.libp2p.peerId);
    expect(connection.remoteAddr.toString()).to.contain('/ws');
    const block = await cborBlock({ via: 'websockets' });
    await a.blockstore.put(block.cid, block.bytes);
    expect(await getBlock(b.blockstore, block.cid, { signal: AbortSignal.timeout(5_000) })).to.deep.equal(block.bytes);
    // TCP stays the default, and a node can listen on both.
    const both = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] });
    const kinds = both.libp2p.getMultiaddrs().map((address) => (address.toString().includes('/ws/') ? 'ws' : 'tcp'));
    expect(kinds.sort()).to.deep.equal(['tcp', 'ws']);
  });

  it('adds extra libp2p services next to identify and ping, on the host that runs bitswap', async () => {
    const dummy = () => ({ hello: () => 'hi' as const });
    const a = await startNode({ libp2p: { services: { dummy } } });
    const b = await startNode();
    expect(a.libp2p.services.dummy.hello()).to.equal('hi');
    expect(a.libp2p.services.identify).to.not.equal(undefined);
    expect(a.libp2p.services.ping).to.not.equal(undefined);
    const protocols = a.libp2p.getProtocols();
    expect(protocols).to.include('/ipfs/id/1.0.0');
    expect(protocols).to.include('/ipfs/ping/1.0.0');
    expect(protocols).to.include('/ipfs/bitswap/1.2.0');

    await connect(b, a);
    // B's connection to A is open once dial() returns; A may not have finished its side yet.
    expect(await b.libp2p.services.ping.ping(a.libp2p.peerId, { signal: AbortSignal.timeout(5_000) })).to.be.a(
      'number',
    );
    const block = await cborBlock({ via: 'extra services' });
    await a.blockstore.put(block.cid, block.bytes);
    expect(await getBlock(b.blockstore, block.cid, { signal: AbortSignal.timeout(5_000) })).to.deep.equal(block.bytes);
  });

  it('merges extra libp2p options such as a connection gater instead of replacing the defaults', async () => {
    const a = await startNode();
    const b = await startNode({
      libp2p: { connectionGater: { denyDialPeer: (peer) => peer.equals(a.libp2p.peerId) } },
    });
    const c = await startNode();
    expect(await rejection(connect(b, a))).to.be.instanceOf(Error);
    expect(b.libp2p.getConnections(a.libp2p.peerId)).to.have.length(0);
    // The same node still dials others with its default transports, encrypters and muxers.
    await connect(b, c);
    expect(b.libp2p.getConnections(c.libp2p.peerId)).to.have.length(1);
  });

  it('dials nobody by itself when it has no bootstrap peers', async () => {
    const node = await startNode();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(node.libp2p.getConnections()).to.have.length(0);
    expect(await node.libp2p.peerStore.all()).to.have.length(0);
  });

  it('dials its bootstrap peers at start', async () => {
    const a = await startNode();
    const b = await startNode({ bootstrap: a.libp2p.getMultiaddrs().map(String) });
    await waitFor(() => b.libp2p.getConnections(a.libp2p.peerId).length > 0, 5_000);
    const block = await cborBlock({ via: 'bootstrap' });
    await a.blockstore.put(block.cid, block.bytes);
    expect(await getBlock(b.blockstore, block.cid, { signal: AbortSignal.timeout(5_000) })).to.deep.equal(block.bytes);
  });

  it('dials a bootstrap peer again when the connection drops', async () => {
    const a = await startNode();
    const b = await startNode({ bootstrap: a.libp2p.getMultiaddrs().map(String) });
    // Both ends: until `a` has the inbound connection too, its hang-up would find nothing to close.
    await waitFor(
      () => b.libp2p.getConnections(a.libp2p.peerId).length > 0 && a.libp2p.getConnections(b.libp2p.peerId).length > 0,
      5_000,
    );
    const first = b.libp2p.getConnections(a.libp2p.peerId)[0]?.id;
    // The bootstrap peer hangs up (it restarts, or drops idle connections): b comes back by itself, on a new
    // connection (it may do so before a poll sees none at all).
    await a.libp2p.hangUp(b.libp2p.peerId);
    await waitFor(
      () => b.libp2p.getConnections(a.libp2p.peerId).some((c) => c.id !== first && c.status === 'open'),
      10_000,
    );
  });

  it('refuses a bootstrap address without a peer id, or that is not a multiaddr', async () => {
    for (const address of ['/ip4/127.0.0.1/tcp/4001', 'not a multiaddr']) {
      const error = await rejection(startNode({ bootstrap: [address] }));
      expect(error).to.be.instanceOf(InvalidNrpHeliaOptionError);
      expect(error.message).to.contain(address);
    }
  });

  it('refuses a listen address that is not a multiaddr', async () => {
    const error = await rejection(startNode({ listen: ['127.0.0.1:4001'] }));
    expect(error).to.be.instanceOf(InvalidNrpHeliaOptionError);
    expect(error.message).to.contain('127.0.0.1:4001');
  });

  it('says in one line which address it could not listen on when the port is taken', async () => {
    const a = await startNode();
    const taken = a.libp2p.getMultiaddrs()[0].decapsulateCode(CODE_P2P).toString();
    const error = await rejection(startNode({ listen: [taken] }));
    expect(error).to.be.instanceOf(ListenFailedError);
    expect(error.message).to.contain(taken).and.contain('EADDRINUSE');
    expect(error.message).to.not.contain('\n');
  });

  it('finds and dials peers on the local network with mDNS when asked to', async () => {
    const a = await startNode({ mdns: true });
    const b = await startNode({ mdns: true });
    await waitFor(() => b.libp2p.getConnections(a.libp2p.peerId).length > 0, 5_000);
  });

  it('does not start when its signal is already aborted', async () => {
    const error = await rejection(startNode({ signal: AbortSignal.abort() }));
    expect(error.name).to.equal('AbortError');
  });
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

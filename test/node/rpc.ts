import { expect } from 'chai';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { handleRequests, request } from '../../src/node/rpc.js';

describe('request/response over libp2p streams', () => {
  let server: NrpHelia;
  let client: NrpHelia;
  beforeEach(async () => {
    server = await createNrpHelia();
    client = await createNrpHelia();
  });
  afterEach(async () => {
    await Promise.all([server.stop(), client.stop()]);
  });

  it('answers a request, knowing who asked', async () => {
    await handleRequests(server.libp2p, '/test/echo/1', async (message, { remotePeer }) =>
      new TextEncoder().encode(`${remotePeer}:${new TextDecoder().decode(message)}`),
    );
    const answer = await request(
      client.libp2p,
      server.libp2p.getMultiaddrs(),
      '/test/echo/1',
      new TextEncoder().encode('hi'),
    );
    expect(new TextDecoder().decode(answer)).to.equal(`${client.libp2p.peerId}:hi`);
  });

  it('resets the stream for an oversized request or a failing handler, and keeps serving', async () => {
    await handleRequests(
      server.libp2p,
      '/test/strict/1',
      async (message) => {
        if (message[0] === 0xff) throw new Error('refused');
        return message;
      },
      { maxRequestBytes: 16 },
    );
    const addrs = server.libp2p.getMultiaddrs();
    const big = request(client.libp2p, addrs, '/test/strict/1', new Uint8Array(64), {
      signal: AbortSignal.timeout(5_000),
    });
    await big.then(
      () => expect.fail('answered an oversized request'),
      (error) => expect(error).to.be.instanceOf(Error),
    );
    const failing = request(client.libp2p, addrs, '/test/strict/1', new Uint8Array([0xff]), {
      signal: AbortSignal.timeout(5_000),
    });
    await failing.then(
      () => expect.fail('answered despite the handler failing'),
      (error) => expect(error).to.be.instanceOf(Error),
    );
    expect(await request(client.libp2p, addrs, '/test/strict/1', new Uint8Array([1, 2]))).to.deep.equal(
      new Uint8Array([1, 2]),
    );
  });

  it('gives a handler its time limit as an abort signal, resets a stream that takes longer, and keeps serving', async () => {
    const reasons: string[] = [];
    await handleRequests(
      server.libp2p,
      '/test/slow/1',
      async (message, { signal }) => {
        if (message[0] !== 0xff) return message;
        // A handler that never answers by itself: only the time limit ends it.
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        reasons.push((signal.reason as Error).name);
        throw signal.reason;
      },
      { timeoutMs: 300 },
    );
    const addrs = server.libp2p.getMultiaddrs();
    const slow = request(client.libp2p, addrs, '/test/slow/1', new Uint8Array([0xff]), {
      signal: AbortSignal.timeout(5_000),
    });
    await slow.then(
      () => expect.fail('answered a request whose handler timed out'),
      (error) => expect(error).to.be.instanceOf(Error),
    );
    expect(reasons).to.deep.equal(['TimeoutError']);
    expect(await request(client.libp2p, addrs, '/test/slow/1', new Uint8Array([7]))).to.deep.equal(new Uint8Array([7]));
  });

  it('refuses a response larger than the caller accepts', async () => {
    await handleRequests(server.libp2p, '/test/big/1', async () => new Uint8Array(1024));
    await request(client.libp2p, server.libp2p.getMultiaddrs(), '/test/big/1', new Uint8Array([1]), {
      maxResponseBytes: 100,
      signal: AbortSignal.timeout(5_000),
    }).then(
      () => expect.fail('accepted an oversized response'),
      (error) => expect(error).to.be.instanceOf(Error),
    );
  });
});

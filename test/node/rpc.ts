import { expect } from 'chai';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { handleRequests, RequestChannel, request } from '../../src/node/rpc.js';

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

  describe('on a stream kept open', () => {
    /** Serves `/test/kept/1`, answering each request with its exchange number on its stream. */
    async function serveKeptOpen(options: { idleTimeoutMs?: number } = {}) {
      const seen: number[] = [];
      await handleRequests(
        server.libp2p,
        '/test/kept/1',
        async (message, { exchange }) => {
          seen.push(exchange);
          if (message[0] === 0xff) throw new Error('refused');
          return Uint8Array.of(exchange, ...message);
        },
        { keepOpen: true, ...options },
      );
      return seen;
    }

    it('serves many requests on one stream, in order', async () => {
      const seen = await serveKeptOpen();
      const channel = new RequestChannel(client.libp2p, server.libp2p.getMultiaddrs(), '/test/kept/1');
      const answers = await Promise.all([1, 2, 3].map((n) => channel.request(Uint8Array.of(n))));
      expect(answers.map((a) => [...a])).to.deep.equal([
        [0, 1],
        [1, 2],
        [2, 3],
      ]);
      expect(channel.streamsOpened).to.equal(1);
      expect(seen).to.deep.equal([0, 1, 2]);
      await channel.close();
      // A client that sends one request and closes is served as before.
      const once = await request(client.libp2p, server.libp2p.getMultiaddrs(), '/test/kept/1', Uint8Array.of(9));
      expect([...once]).to.deep.equal([0, 9]);
    });

    it('opens a new stream after a failed exchange, or once the server closed an idle one', async () => {
      const seen = await serveKeptOpen({ idleTimeoutMs: 200 });
      const channel = new RequestChannel(client.libp2p, server.libp2p.getMultiaddrs(), '/test/kept/1');
      expect([...(await channel.request(Uint8Array.of(1)))]).to.deep.equal([0, 1]);
      const refused = await channel.request(Uint8Array.of(0xff)).catch((error: Error) => error);
      expect(refused).to.be.instanceOf(Error);
      expect([...(await channel.request(Uint8Array.of(2)))], 'a new stream').to.deep.equal([0, 2]);
      // Well past the idle limit, so the server's close has reached this end even on a busy machine.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect([...(await channel.request(Uint8Array.of(3)))], 'after the idle close').to.deep.equal([0, 3]);
      expect(channel.streamsOpened).to.equal(3);
      expect(seen).to.deep.equal([0, 1, 0, 0]);
      await channel.close();
    });

    it('closes a stream that stays idle past its limit', async () => {
      await serveKeptOpen({ idleTimeoutMs: 300 });
      const channel = new RequestChannel(client.libp2p, server.libp2p.getMultiaddrs(), '/test/kept/1');
      await channel.request(Uint8Array.of(1));
      const kept = () =>
        server.libp2p
          .getConnections(client.libp2p.peerId)
          .flatMap((connection) => connection.streams)
          .filter((stream) => stream.protocol === '/test/kept/1' && stream.status === 'open').length;
      expect(kept(), 'kept open between requests').to.equal(1);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(kept(), 'closed once idle too long').to.equal(0);
      await channel.close();
    });
  });
});

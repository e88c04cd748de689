import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { expect } from 'chai';
import {
  EDGE_PROTOCOL,
  type EdgeEvent,
  EdgeService,
  type EdgeServiceInit,
  type UnsupportedEdgeEvent,
} from '../../src/node/edges.js';
import {
  createEdgeHalf,
  decodeEdgeHalf,
  edgeStatement,
  encodeEdgeHalf,
  verifyEdge,
} from '../../src/node/protocol/edge.js';
import { comparePeers, toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { REPORT_PROTOCOL } from '../../src/node/reporter.js';
import { handleRequests, request } from '../../src/node/rpc.js';
import { removeDir } from '../helpers/dirs.js';
import { startHost, type TestHost } from './helpers/peers.js';
import { ReportReceiver } from './helpers/report-receiver.js';
import { nextEvent, waitFor } from './helpers/wait.js';

describe('EdgeService: edge attestations between neighbours', function () {
  this.timeout(60_000);
  const hosts: TestHost[] = [];
  const services: EdgeService[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
    await Promise.all(hosts.splice(0).map((h) => h.helia.stop()));
    await Promise.all(dirs.splice(0).map((d) => removeDir(d)));
  });

  async function host(): Promise<TestHost> {
    const h = await startHost();
    hosts.push(h);
    return h;
  }

  async function withService(h: TestHost, init: EdgeServiceInit = {}, dbPath?: string): Promise<EdgeService> {
    const service = new EdgeService({ libp2p: h.helia.libp2p, privateKey: h.key, dbPath }, init);
    services.push(service);
    await service.start();
    return service;
  }

  function record(service: EdgeService): EdgeEvent[] {
    const events: EdgeEvent[] = [];
    service.addEventListener('edge', ({ detail }) => events.push(detail));
    return events;
  }

  async function connect(from: TestHost, to: TestHost) {
    await from.helia.libp2p.dial(to.helia.libp2p.getMultiaddrs());
  }

  /** The two hosts ordered as the edge's ends: `a` sorts first and initiates. */
  function ends(x: TestHost, y: TestHost): [TestHost, TestHost] {
    return comparePeers(toPeerIdBytes(x.id), toPeerIdBytes(y.id)) < 0 ? [x, y] : [y, x];
  }

  it('gives both ends the same edge, signed by both, after one exchange started by the first end', async () => {
    const [x, y] = [await host(), await host()];
    const [sx, sy] = [await withService(x), await withService(y)];
    const [ex, ey] = [record(sx), record(sy)];
    // Dial from the end that does not initiate too, to show the direction of the dial does not matter.
    const [a] = ends(x, y);
    await connect(a === x ? y : x, a);
    await waitFor('an edge at both ends', () => sx.edgeWith(y.id) !== undefined && sy.edgeWith(x.id) !== undefined);

    const edge = sx.edgeWith(y.id);
    expect(sy.edgeWith(x.id)).to.deep.equal(edge);
    await verifyEdge(edge as NonNullable<typeof edge>);
    expect(sx.currentEdges()).to.deep.equal([edge]);
    expect(sy.currentEdges()).to.deep.equal([edge]);
    // One exchange, not one per end: the end that sorts first initiated it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = [...ex, ...ey];
    expect(all.map((e) => e.role).sort()).to.deep.equal(['initiator', 'responder']);
    expect((a === x ? ex : ey)[0].role).to.equal('initiator');
  });

  it('attests the connection again every refreshMs while it lasts, and no more after it closes', async () => {
    const [x, y] = [await host(), await host()];
    const init = { refreshMs: 300, minIntervalMs: 0 };
    const [sx, sy] = [await withService(x, init), await withService(y, init)];
    await connect(x, y);
    await waitFor('a first edge', () => sx.edgeWith(y.id) !== undefined);
    const first = sx.edgeWith(y.id)?.time as number;
    await waitFor('a newer edge at both ends', () => {
      const [ax, ay] = [sx.edgeWith(y.id), sy.edgeWith(x.id)];
      return ax !== undefined && ax.time > first && ay !== undefined && ay.time === ax.time;
    });
    await verifyEdge(sx.edgeWith(y.id) as NonNullable<ReturnType<EdgeService['edgeWith']>>);

    await x.helia.libp2p.hangUp(y.helia.libp2p.peerId);
    await waitFor('disconnected', () => sx.edgeWith(y.id) !== undefined && x.helia.libp2p.getPeers().length === 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const last = sx.edgeWith(y.id)?.time;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(sx.edgeWith(y.id)?.time).to.equal(last);
  });

  it('lets the other end take over when the first end does not refresh', async () => {
    const [x, y] = [await host(), await host()];
    const [a, b] = ends(x, y);
    // The first end would wait an hour; the other end waits its period plus the grace time, then initiates.
    await withService(a, { refreshMs: 60 * 60_000 });
    const sb = await withService(b, { refreshMs: 200, graceMs: 100, minIntervalMs: 0 });
    const events = record(sb);
    await connect(a, b);
    await waitFor('the other end to initiate', () => events.some((e) => e.role === 'initiator'));
    expect(events[0].role, 'the first exchange is still the first end’s').to.equal('responder');
    await verifyEdge(sb.edgeWith(a.id) as NonNullable<ReturnType<EdgeService['edgeWith']>>);
  });

  it('never tries, nor retries, an edge with a rating-server-like peer without the protocol, until it speaks it', async () => {
    const [x, server] = [await host(), await host()];
    // Like a rating server: it takes reports, but attests no edges.
    await ReportReceiver.start(server.helia.libp2p);
    const init = { refreshMs: 300, graceMs: 0, retryMinMs: 20, minIntervalMs: 0 };
    const sx = await withService(x, init);
    const unsupported: UnsupportedEdgeEvent[] = [];
    sx.addEventListener('unsupported', ({ detail }) => unsupported.push(detail));
    // Count the exchanges x opens, whatever happens to them.
    let tries = 0;
    const libp2p = x.helia.libp2p;
    const dialProtocol = libp2p.dialProtocol.bind(libp2p);
    libp2p.dialProtocol = (peer, protocols, options) => {
      if ([protocols].flat().includes(EDGE_PROTOCOL)) tries++;
      return dialProtocol(peer, protocols, options);
    };
    await connect(server, x);
    await waitFor('identify to say what the server speaks', async () => {
      const known = await libp2p.peerStore.get(server.helia.libp2p.peerId).catch(() => undefined);
      return known?.protocols.includes(REPORT_PROTOCOL) === true;
    });
    // Several refresh periods and many retry periods: at most the one try made before identify answered.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(tries).to.be.at.most(1);
    expect(unsupported).to.deep.equal([{ peer: server.id }]);
    expect(sx.edgeWith(server.id)).to.equal(undefined);
    expect(libp2p.getPeers().map(String)).to.deep.equal([server.id]);

    // The same peer comes back speaking the protocol: identify on the new connection says so, and the edge follows.
    await withService(server, init);
    await libp2p.hangUp(server.helia.libp2p.peerId);
    await waitFor('both ends to see the hang-up', () => server.helia.libp2p.getConnections().length === 0);
    await connect(server, x);
    await waitFor('the edge', () => sx.edgeWith(server.id) !== undefined);
    await verifyEdge(sx.edgeWith(server.id) as NonNullable<ReturnType<EdgeService['edgeWith']>>);
  });

  it('refuses malformed, badly signed, foreign, stale and too frequent halves, and keeps serving', async () => {
    const server = await host();
    const service = await withService(server, { refreshMs: 60 * 60_000, minIntervalMs: 5_000 });
    // A raw client that speaks the protocol by hand.
    const client = await host();
    await connect(client, server);
    const carol = await generateKeyPair('Ed25519');
    const rejected: string[] = [];
    service.addEventListener('rejected', ({ detail }) => rejected.push(detail.reason));
    const send = (bytes: Uint8Array) =>
      request(client.helia.libp2p, server.helia.libp2p.peerId, EDGE_PROTOCOL, bytes, {
        signal: AbortSignal.timeout(5_000),
      });
    const refused = async (bytes: Uint8Array, reason: string) => {
      const before = rejected.length;
      await send(bytes).then(
        () => expect.fail(`answered a half that should be refused as ${reason}`),
        (error) => expect(error).to.be.instanceOf(Error),
      );
      await waitFor('the rejection', () => rejected.length > before);
      expect(rejected.at(-1)).to.equal(reason);
    };

    await refused(new Uint8Array([0xa1, 0x61, 0x78, 0x01]), 'malformed');
    await refused(new TextEncoder().encode('not cbor at all'), 'malformed');
    // A half of the client's edge with Carol: the server is not an end of it.
    const foreign = await createEdgeHalf(client.key, edgeStatement(client.id, carol.publicKey.toMultihash().bytes));
    await refused(encodeEdgeHalf(foreign), 'wrong-statement');
    // Carol's half of the client–server edge, sent by the client.
    const statement = edgeStatement(client.id, server.id);
    await refused(
      encodeEdgeHalf(await createEdgeHalf(carol, edgeStatement(carol.publicKey.toMultihash().bytes, server.id))),
      'wrong-statement',
    );
    // The right statement and signer, but a signature that does not verify.
    const good = await createEdgeHalf(client.key, statement);
    await refused(encodeEdgeHalf({ ...good, signature: new Uint8Array(64).fill(7) }), 'bad-signature');
    // Backdated and postdated halves.
    await refused(
      encodeEdgeHalf(await createEdgeHalf(client.key, edgeStatement(client.id, server.id, Date.now() - 10 * 60_000))),
      'stale',
    );
    await refused(
      encodeEdgeHalf(await createEdgeHalf(client.key, edgeStatement(client.id, server.id, Date.now() + 10 * 60_000))),
      'stale',
    );
    expect(service.edgeWith(client.id)).to.equal(undefined);

    // Still serving: a good half is countersigned, and the client can complete the edge.
    const answer = decodeEdgeHalf(
      await send(encodeEdgeHalf(await createEdgeHalf(client.key, edgeStatement(client.id, server.id)))),
    );
    const stored = service.edgeWith(client.id);
    expect(stored).to.not.equal(undefined);
    expect(answer.time).to.equal(stored?.time);
    await verifyEdge(stored as NonNullable<typeof stored>);
    // But not again at once.
    await refused(
      encodeEdgeHalf(await createEdgeHalf(client.key, edgeStatement(client.id, server.id))),
      'rate-limited',
    );
  });

  it('refuses an answer that does not complete its own statement', async () => {
    const honest = await host();
    const service = await withService(honest, { refreshMs: 60 * 60_000 });
    const liar = await host();
    // The liar countersigns another time than the one it was asked to.
    await handleRequests(liar.helia.libp2p, EDGE_PROTOCOL, async (message) => {
      const half = decodeEdgeHalf(message);
      return encodeEdgeHalf(await createEdgeHalf(liar.key, { ...half, time: half.time + 1 }));
    });
    await connect(liar, honest);
    await waitFor('the connection at the honest end', () => honest.helia.libp2p.getPeers().length > 0);
    const error = await service.attest(liar.helia.libp2p.peerId).then(
      () => expect.fail('accepted a half of another statement'),
      (err: Error) => err,
    );
    expect(error.name).to.equal('EdgeStatementMismatchError');
    expect(service.edgeWith(liar.id)).to.equal(undefined);
  });

  it('keeps the newest edge per neighbour on disk, and reports only recent ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nrp-edges-'));
    dirs.push(dir);
    const [x, y] = [await host(), await host()];
    const sx = await withService(x, { maxAgeMs: 400 }, join(dir, 'edges.db'));
    await withService(y);
    const edge = nextEvent<EdgeEvent>(sx, 'edge');
    await connect(x, y);
    const { edge: stored } = await edge;
    await x.helia.libp2p.hangUp(y.helia.libp2p.peerId);
    await sx.stop();

    const reopened = await withService(x, { maxAgeMs: 400 }, join(dir, 'edges.db'));
    expect(reopened.edgeWith(y.id)).to.deep.equal(stored);
    await waitFor('the edge to age out of currentEdges', () => reopened.currentEdges().length === 0, 2_000);
    expect(reopened.edgeWith(y.id), 'still on record').to.deep.equal(stored);
  });
});

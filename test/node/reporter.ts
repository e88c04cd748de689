import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { entryId } from '../../src/lists/entry-id.js';
import { EdgeService } from '../../src/node/edges.js';
import { createAdvert, encodeAdvert } from '../../src/node/protocol/advert.js';
import { verifyEdge } from '../../src/node/protocol/edge.js';
import { peerIdToString, samePeer, toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { SequenceTracker } from '../../src/node/protocol/sequence.js';
import { verifySighting } from '../../src/node/protocol/sighting.js';
import {
  decodeReportAck,
  encodeReportAck,
  type FailedEvent,
  Reporter,
  type ReporterInit,
  type ReportServer,
} from '../../src/node/reporter.js';
import { NodeStore } from '../../src/node/store.js';
import { freePort, startHost, type TestHost } from './helpers/peers.js';
import { ReportReceiver, type ReportReceiverOptions } from './helpers/report-receiver.js';
import { nextEvent, waitFor } from './helpers/wait.js';

/** A reporting node: a libp2p host with its evidence store, edge service and reporter. */
interface TestNode extends TestHost {
  store: NodeStore;
  edges: EdgeService;
  reporter: Reporter;
}

/** A rating server's intake: a host with a report receiver. */
interface TestServer extends TestHost {
  receiver: ReportReceiver;
  server: ReportServer;
}

describe('Reporter: signed reports to rating servers', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let distributor: Ed25519PrivateKey;

  before(async () => {
    distributor = await generateKeyPair('Ed25519');
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'nrp-reporter-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async function node(
    init: ReporterInit & { dataDir?: string; key?: Ed25519PrivateKey; start?: boolean } = {},
  ): Promise<TestNode> {
    const host = await startHost({ key: init.key });
    cleanups.push(() => host.helia.stop());
    const store = NodeStore.open(init.dataDir ? join(init.dataDir, 'node.db') : ':memory:');
    cleanups.push(async () => store.close());
    const edges = new EdgeService({
      libp2p: host.helia.libp2p,
      privateKey: host.key,
      dbPath: init.dataDir && join(init.dataDir, 'edges.db'),
    });
    await edges.start();
    cleanups.push(() => edges.stop());
    const reporter = new Reporter(
      {
        libp2p: host.helia.libp2p,
        privateKey: host.key,
        store,
        edges,
        dbPath: init.dataDir && join(init.dataDir, 'reports.db'),
      },
      { intervalMs: 60 * 60_000, retryMinMs: 100, retryMaxMs: 400, ...init },
    );
    cleanups.push(() => reporter.stop());
    if (init.start !== false) await reporter.start();
    return { ...host, store, edges, reporter };
  }

  /** Starts a server; with `port`, on that port, so a node can be told its address before it is up. */
  async function server(options: ReportReceiverOptions & { port?: number; key?: Ed25519PrivateKey } = {}) {
    const host = await startHost({
      key: options.key,
      listen: options.port ? [`/ip4/127.0.0.1/tcp/${options.port}`] : undefined,
    });
    cleanups.push(() => host.helia.stop());
    const receiver = await ReportReceiver.start(host.helia.libp2p, options);
    const server = { peerId: host.id, multiaddrs: host.helia.libp2p.getMultiaddrs().map(String) };
    return { ...host, receiver, server } satisfies TestServer;
  }

  /** A server that is down: its key and an address where nothing listens yet. */
  async function downServer() {
    const key = await generateKeyPair('Ed25519');
    const port = await freePort();
    const peerId = peerIdToString(toPeerIdBytes(key.publicKey.toMultihash().bytes));
    // No /p2p/ part: the reporter pins the address to the peer id itself.
    return { key, port, server: { peerId, multiaddrs: [`/ip4/127.0.0.1/tcp/${port}`] } };
  }

  /** Evidence as the advert service records it: the distributor's signed advert of listed content. */
  async function addEvidence(store: NodeStore, text: string, options: { time?: number; signature?: Uint8Array } = {}) {
    const cid = CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)));
    const advert = await createAdvert(distributor, { cid, size: text.length, name: `${text}.txt`, time: options.time });
    if (options.signature) advert.signature = options.signature;
    store.addEvidence({
      entryId: entryId(cid),
      cid: cid.toString(),
      fromPeer: peerIdToString(advert.sender),
      advert: encodeAdvert(advert),
      seenAt: Date.now(),
    });
    return cid;
  }

  function seqs(receiver: ReportReceiver): number[] {
    return receiver.accepted.map((report) => report.seq);
  }

  it('sends each followed server a signed report of its complete edges and the evidence', async () => {
    const [s1, s2] = [await server(), await server()];
    const reporting = await node({ start: false, servers: [s1.server, s2.server] });
    const neighbour = await node({ start: false });
    await reporting.helia.libp2p.dial(neighbour.helia.libp2p.getMultiaddrs());
    await waitFor('the edge', () => reporting.edges.currentEdges().length === 1);
    const cids = [await addEvidence(reporting.store, 'bad one'), await addEvidence(reporting.store, 'bad two')];

    await reporting.reporter.start();
    await waitFor('both servers to accept', () => reporting.reporter.pending().length === 0);
    expect(s1.receiver.accepted.length + s2.receiver.accepted.length).to.equal(2);
    for (const { receiver } of [s1, s2]) {
      const [report] = receiver.accepted;
      expect(samePeer(report.reporter, toPeerIdBytes(reporting.id))).to.equal(true);
      expect(report.edges).to.have.length(1);
      await verifyEdge(report.edges[0]);
      const ends = [report.edges[0].a, report.edges[0].b].map(peerIdToString).sort();
      expect(ends).to.deep.equal([reporting.id, neighbour.id].sort());
      expect(report.sightings.map((s) => s.cid.toString())).to.deep.equal(cids.map(String));
      for (const sighting of report.sightings) {
        // The evidence is the accused neighbour's own signature.
        expect(samePeer(sighting.advert.sender, toPeerIdBytes(distributor.publicKey.toMultihash().bytes))).to.equal(
          true,
        );
        await verifySighting(sighting);
      }
    }
    expect(reporting.reporter.pending()).to.deep.equal([]);

    // The next round carries the edges again, and only new evidence.
    const later = await addEvidence(reporting.store, 'bad three');
    const sent = nextEvent(reporting.reporter, 'sent', (d: { server: string }) => d.server === s1.id);
    await reporting.reporter.report();
    await reporting.reporter.flush();
    await sent;
    const [first, second] = s1.receiver.accepted;
    expect(second.seq).to.equal(first.seq + 1);
    expect(second.edges).to.have.length(1);
    expect(second.sightings.map((s) => s.cid.toString())).to.deep.equal([later.toString()]);
  });

  it('reports on its own every intervalMs, in sequence', async () => {
    const s = await server();
    await node({ intervalMs: 150, servers: [s.server] });
    await waitFor('three reports', () => s.receiver.accepted.length >= 3);
    const [a, b, c] = seqs(s.receiver);
    expect([b - a, c - b]).to.deep.equal([1, 1]);
    expect(s.receiver.refused).to.deep.equal([]);
  });

  it('keeps reports while the server is down, with backoff, and delivers them in order once it is up', async () => {
    const down = await downServer();
    const reporting = await node({ start: false, servers: [down.server] });
    await addEvidence(reporting.store, 'before the outage');
    const failures: FailedEvent[] = [];
    reporting.reporter.addEventListener('failed', ({ detail }) => failures.push(detail));
    await reporting.reporter.start();
    await waitFor('three failed attempts', () => failures.length >= 3);
    expect(failures.map((f) => f.attempts).slice(0, 3)).to.deep.equal([1, 2, 3]);
    const gaps = failures.slice(0, 3).map((f, i) => f.nextAttemptAt - (i === 0 ? 0 : failures[i - 1].nextAttemptAt));
    expect(gaps[2], 'the waits grow').to.be.above(100);
    const [pending] = reporting.reporter.pending();
    expect(pending).to.include({ server: down.server.peerId, sightings: 1 });
    expect(pending.attempts).to.be.at.least(3);
    expect(pending.lastError).to.be.a('string');

    // More evidence meanwhile: a second report queues behind the first.
    await addEvidence(reporting.store, 'during the outage');
    await reporting.reporter.report();
    // A round without new evidence adds nothing while reports wait.
    expect(await reporting.reporter.report()).to.deep.equal([]);
    expect(reporting.reporter.pending().map((p) => p.seq)).to.deep.equal([pending.seq, pending.seq + 1]);

    const up = await server({ key: down.key, port: down.port });
    await waitFor('both delivered', () => reporting.reporter.pending().length === 0, 10_000);
    expect(seqs(up.receiver)).to.deep.equal([pending.seq, pending.seq + 1]);
    expect(up.receiver.accepted.map((r) => r.sightings.length)).to.deep.equal([1, 1]);
  });

  it('keeps the outbox and the sequence numbers across a restart: nothing lost, nothing replayed', async () => {
    const dataDir = await tempDir();
    const down = await downServer();
    const first = await node({ dataDir, servers: [down.server] });
    await addEvidence(first.store, 'reported after a restart');
    await first.reporter.report();
    const before = first.reporter.pending();
    expect(before).to.have.length(2);
    expect(before[1].sightings).to.equal(1);
    // Stop everything, as a crash after the commit would.
    await first.reporter.stop();
    await first.edges.stop();
    await first.helia.stop();
    first.store.close();

    const again = await node({ dataDir, key: first.key, start: false, servers: [down.server] });
    expect(again.reporter.pending().map((p) => p.seq)).to.deep.equal(before.map((p) => p.seq));
    const up = await server({ key: down.key, port: down.port });
    await again.reporter.start();
    await waitFor('the outbox delivered', () => again.reporter.pending().length === 0, 10_000);
    await again.reporter.report();
    await again.reporter.flush();

    const last = before[1].seq;
    expect(seqs(up.receiver)).to.deep.equal([before[0].seq, last, last + 1]);
    expect(up.receiver.refused).to.deep.equal([]);
    expect(up.receiver.accepted.flatMap((r) => r.sightings)).to.have.length(1);
  });

  it('drops a report the server refuses, and says why', async () => {
    const key = await generateKeyPair('Ed25519');
    // The server already has a higher sequence number from this node, e.g. from before its data was lost.
    const tracker = new SequenceTracker([[peerIdToString(toPeerIdBytes(key.publicKey.toMultihash().bytes)), 2 ** 50]]);
    const s = await server({ tracker });
    const reporting = await node({ key, start: false, servers: [s.server] });
    await addEvidence(reporting.store, 'refused');
    const rejected = nextEvent<{ reason: string; sightings: number }>(reporting.reporter, 'rejected');
    await reporting.reporter.start();
    const detail = await rejected;
    expect(detail.reason).to.match(/^ReplayedSequenceError/);
    expect(detail.sightings).to.equal(1);
    expect(reporting.reporter.pending()).to.deep.equal([]);

    // A policy refusal is dropped the same way, and the next report goes through.
    const policy = await server({ refuse: (report) => (report.sightings.length > 0 ? 'not today' : undefined) });
    reporting.reporter.setServers([policy.server]);
    await addEvidence(reporting.store, 'refused by policy');
    const refused = nextEvent<{ reason: string }>(reporting.reporter, 'rejected');
    await reporting.reporter.report();
    expect((await refused).reason).to.equal('not today');
    await reporting.reporter.report();
    await reporting.reporter.flush();
    expect(policy.receiver.accepted).to.have.length(1);
  });

  it('keeps a report refused for rate limiting, and delivers it later', async () => {
    let limited = 1;
    const s = await server({ refuse: () => (limited-- > 0 ? 'rate-limited: too many reports' : undefined) });
    const reporting = await node({ start: false, servers: [s.server] });
    await addEvidence(reporting.store, 'limited');
    const failed = nextEvent<{ error: Error }>(reporting.reporter, 'failed');
    await reporting.reporter.start();
    expect((await failed).error.name).to.equal('ReportRateLimitedError');
    expect(reporting.reporter.pending()).to.have.length(1);
    await reporting.reporter.flush();
    expect(s.receiver.accepted.map((r) => r.sightings.length)).to.deep.equal([1]);
    expect(reporting.reporter.pending()).to.deep.equal([]);
  });

  it('after a lost ack, retries once, and takes the replay refusal as the end of it', async () => {
    const s = await server({ loseAcks: 1 });
    const reporting = await node({ start: false, servers: [s.server] });
    await addEvidence(reporting.store, 'ack lost');
    const failed = nextEvent(reporting.reporter, 'failed');
    const rejected = nextEvent<{ reason: string }>(reporting.reporter, 'rejected');
    await reporting.reporter.start();
    await failed;
    expect((await rejected).reason).to.match(/^ReplayedSequenceError/);
    expect(s.receiver.accepted, 'the server has it, once').to.have.length(1);
    expect(reporting.reporter.pending()).to.deep.equal([]);
  });

  it('splits piled-up evidence within the protocol limits, and skips evidence that would not verify', async () => {
    const s = await server();
    const reporting = await node({ start: false, servers: [s.server] });
    await addEvidence(reporting.store, 'forged', { signature: new Uint8Array(64).fill(1) });
    await addEvidence(reporting.store, 'too old', { time: Date.now() - 24 * 60 * 60_000 });
    for (let i = 0; i < 1_200; i++) await addEvidence(reporting.store, `bad ${i}`);
    const queued = await reporting.reporter.report();
    expect(queued.map((q) => q.sightings)).to.deep.equal([1_000, 200]);
    await reporting.reporter.flush();
    expect(s.receiver.accepted.map((r) => r.sightings.length)).to.deep.equal([1_000, 200]);
    expect(s.receiver.refused).to.deep.equal([]);
    // Nothing is left behind, and nothing is sent twice.
    expect(await reporting.reporter.report()).to.deep.equal([
      { server: s.id, seq: queued[1].seq + 1, edges: 0, sightings: 0 },
    ]);
  });

  it('signs a report that waited too long again, under the same sequence number', async () => {
    const down = await downServer();
    const reporting = await node({ start: false, servers: [down.server], resignAfterMs: 200 });
    await addEvidence(reporting.store, 'waited');
    await reporting.reporter.report();
    const [queued] = reporting.reporter.pending();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const up = await server({ key: down.key, port: down.port });
    await reporting.reporter.flush();
    const [report] = up.receiver.accepted;
    expect(report.seq).to.equal(queued.seq);
    expect(report.time).to.be.above(queued.time + 200);
    expect(report.sightings).to.have.length(1);
  });

  it('refuses servers with a bad peer id or an address of another peer', async () => {
    const reporting = await node({ start: false });
    expect(() => reporting.reporter.setServers([{ peerId: 'nope', multiaddrs: [] }])).to.throw(
      /not an Ed25519 peer id/,
    );
    const other = (await downServer()).server.peerId;
    const mine = (await downServer()).server.peerId;
    expect(() =>
      reporting.reporter.setServers([{ peerId: mine, multiaddrs: [`/ip4/127.0.0.1/tcp/1/p2p/${other}`] }]),
    ).to.throw(/another peer/);
  });
});

describe('report acks', () => {
  it('round-trip, strictly', () => {
    for (const ack of [
      { seq: 7, accepted: true },
      { seq: 8, accepted: false, reason: 'replayed' },
    ]) {
      expect(decodeReportAck(encodeReportAck(ack))).to.deep.equal(ack);
    }
    const bad = [
      dagCbor.encode({ seq: 1, accepted: true, extra: 1 }),
      dagCbor.encode({ seq: 1, accepted: 'yes' }),
      dagCbor.encode({ seq: -1, accepted: true }),
      dagCbor.encode({ accepted: true }),
      dagCbor.encode({ seq: 1, accepted: false, reason: 'x'.repeat(600) }),
      dagCbor.encode([1, true]),
      new Uint8Array([0xff]),
      new Uint8Array(2_000),
    ];
    for (const bytes of bad) expect(() => decodeReportAck(bytes)).to.throw();
    expect(() => encodeReportAck({ seq: 1, accepted: false, reason: 'x'.repeat(600) })).to.throw();
  });
});

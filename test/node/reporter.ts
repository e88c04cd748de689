import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unixfs } from '@helia/unixfs';
import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { entryId } from '../../src/lists/entry-id.js';
import { ListSync } from '../../src/lists/sync.js';
import { EdgeService } from '../../src/node/edges.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { createAdvert, encodeAdvert } from '../../src/node/protocol/advert.js';
import { verifyEdge } from '../../src/node/protocol/edge.js';
import { peerIdToString, samePeer, toPeerIdBytes } from '../../src/node/protocol/peer.js';
import type { Report } from '../../src/node/protocol/report.js';
import { SequenceTracker } from '../../src/node/protocol/sequence.js';
import { verifySighting } from '../../src/node/protocol/sighting.js';
import {
  decodeReportAck,
  encodeReportAck,
  type FailedEvent,
  type HeldEvent,
  Reporter,
  type ReporterInit,
  type ReportServer,
} from '../../src/node/reporter.js';
import { NodeStore } from '../../src/node/store.js';
import { createRatingServer } from '../../src/server/server.js';
import { publicClient, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { publishListVersion } from '../server/helpers/governance.js';
import { freePort, startHost, type TestHost } from './helpers/peers.js';
import { ReportReceiver, type ReportReceiverOptions } from './helpers/report-receiver.js';
import { nextEvent, record, waitFor } from './helpers/wait.js';

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
    cleanups.push(() => removeDir(dir));
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
    // Pages of 64 rows: the backlog is read a page at a time, never all at once.
    const reporting = await node({ start: false, servers: [s.server], evidencePageSize: 64 });
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

  it('sends each server only sightings of content its own list lists, and moves past the rest', async () => {
    const [s1, s2] = [await server(), await server()];
    const reporting = await node({ start: false });
    const [x, y, z] = [
      await addEvidence(reporting.store, 'listed by the first'),
      await addEvidence(reporting.store, 'listed by both'),
      await addEvidence(reporting.store, 'listed by neither'),
    ];
    const lists = new Map([
      [s1.id, new Set([x, y].map(String))],
      [s2.id, new Set([y].map(String))],
    ]);
    const following = (s: TestServer): ReportServer => ({
      ...s.server,
      isListed: (cid) => lists.get(s.id)?.has(cid.toString()) === true,
    });
    reporting.reporter.setServers([following(s1), following(s2)]);
    await reporting.reporter.start();
    await waitFor('both servers to accept', () => reporting.reporter.pending().length === 0);
    const cids = (s: TestServer) => s.receiver.accepted.flatMap((r) => r.sightings.map((v) => v.cid.toString()));
    expect(cids(s1)).to.deep.equal([x, y].map(String));
    expect(cids(s2)).to.deep.equal([y].map(String));
    expect([...s1.receiver.refused, ...s2.receiver.refused]).to.deep.equal([]);
    expect(z).to.not.equal(undefined);

    // Evidence for neither: nothing new for anyone, and no second report while one waits.
    await addEvidence(reporting.store, 'still listed by neither');
    const down = await downServer();
    reporting.reporter.setServers([following(s2), { ...down.server, isListed: () => false }]);
    await reporting.reporter.report();
    await reporting.reporter.flush();
    expect(cids(s2)).to.deep.equal([y].map(String));
    const waiting = reporting.reporter.pending();
    expect(waiting.map((p) => [p.server, p.sightings])).to.deep.equal([[down.server.peerId, 0]]);
    await addEvidence(reporting.store, 'and again');
    const round = await reporting.reporter.report();
    expect(round.filter((q) => q.server === down.server.peerId)).to.deep.equal([]);
    expect(round.map((q) => q.sightings)).to.deep.equal([0]);
    expect(reporting.reporter.pending().filter((p) => p.server === down.server.peerId)).to.have.length(1);
  });

  describe('a server whose list lags behind the node’s', () => {
    /** Refuses a report naming any of `unlisted`, as a rating server whose list lacks those entries does. */
    function lagging(unlisted: Set<string>) {
      return (report: Report) => {
        const i = report.sightings.findIndex((sighting) => unlisted.has(sighting.cid.toString()));
        if (i < 0) return undefined;
        return `unlisted-entry: sightings[${i}]: ${report.sightings[i].cid} is not on this server's list`;
      };
    }
    const sent = (s: TestServer) => s.receiver.accepted.flatMap((r) => r.sightings.map((v) => v.cid.toString()));

    it('holds the sighting it refuses, sends the others at once, and the held one once the list catches up', async () => {
      const dataDir = await tempDir();
      const unlisted = new Set<string>();
      const s = await server({ refuse: lagging(unlisted) });
      const first = await node({ dataDir, start: false, servers: [s.server], retryMinMs: 200, retryMaxMs: 400 });
      const late = await addEvidence(first.store, 'listed in a version the server has not synced');
      const others = [await addEvidence(first.store, 'listed long ago'), await addEvidence(first.store, 'also')];
      unlisted.add(late.toString());
      const held = nextEvent<HeldEvent>(first.reporter, 'held');
      await first.reporter.start();
      expect(await held).to.deep.include({ server: s.id, held: 1, resent: 2, dropped: 0 });
      expect((await held).reason).to.match(/^unlisted-entry: sightings\[0\]/);
      await waitFor('the other two accepted', () => sent(s).length === 2);
      expect(sent(s)).to.deep.equal(others.map(String));
      expect(first.reporter.held().map((h) => [h.cid, h.refusals])).to.deep.equal([[late.toString(), 1]]);

      // A restart keeps it.
      await first.reporter.stop();
      await first.edges.stop();
      await first.helia.stop();
      first.store.close();
      const again = await node({ dataDir, key: first.key, start: false, servers: [s.server], retryMinMs: 200 });
      expect(again.reporter.held().map((h) => h.cid)).to.deep.equal([late.toString()]);

      // Still unlisted there: refused again, held again, with a longer wait.
      await new Promise((resolve) => setTimeout(resolve, 250));
      const heldAgain = nextEvent<HeldEvent>(again.reporter, 'held');
      await again.reporter.report();
      await again.reporter.flush();
      expect(await heldAgain).to.deep.include({ held: 1, resent: 0, dropped: 0 });
      expect(again.reporter.held()[0].refusals).to.equal(2);
      // Not due yet: a round now does not send it.
      const [round] = await again.reporter.report();
      expect(round.sightings).to.equal(0);

      // The server's list catches up: the next round after the wait delivers it, once.
      unlisted.clear();
      await waitFor('the held sighting to be due', () => (again.reporter.held()[0]?.nextAttemptAt ?? 0) <= Date.now());
      await again.reporter.flush();
      const [retry] = await again.reporter.report();
      expect(retry.sightings).to.equal(1);
      await again.reporter.flush();
      expect(sent(s)).to.deep.equal([...others, late].map(String));
      expect(again.reporter.held()).to.deep.equal([]);
      expect(again.reporter.pending()).to.deep.equal([]);
    });

    it('gives a held sighting up after maxHoldRefusals refusals, or once held for maxHoldMs', async () => {
      const unlisted = new Set<string>();
      const s = await server({ refuse: lagging(unlisted) });
      const reporting = await node({
        start: false,
        servers: [s.server],
        retryMinMs: 1,
        retryMaxMs: 1,
        maxHoldRefusals: 2,
      });
      const never = await addEvidence(reporting.store, 'never on this server');
      unlisted.add(never.toString());
      const events: HeldEvent[] = [];
      reporting.reporter.addEventListener('held', ({ detail }) => events.push(detail));
      for (let round = 0; round < 4; round++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        await reporting.reporter.report();
        await reporting.reporter.flush();
      }
      expect(events.map((e) => [e.held, e.dropped])).to.deep.equal([
        [1, 0],
        [1, 0],
        [0, 1],
      ]);
      expect(reporting.reporter.held()).to.deep.equal([]);
      expect(sent(s)).to.deep.equal([]);

      const patient = await node({ start: false, servers: [s.server], retryMinMs: 1, retryMaxMs: 1, maxHoldMs: 300 });
      await addEvidence(patient.store, 'never on this server');
      const dropped = record<HeldEvent>(patient.reporter, 'held');
      const deadline = Date.now() + 5_000;
      while (!dropped.some((e) => e.dropped === 1) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await patient.reporter.report();
        await patient.reporter.flush();
      }
      expect(dropped.filter((e) => e.dropped === 1)).to.have.length(1);
      expect(dropped.at(-1)?.dropped).to.equal(1);
      expect(patient.reporter.held()).to.deep.equal([]);
    });
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

// The race between a node's list sync and its server's, with the real rating server (src/server) on the
// in-process chain: the node lists content first, the server refuses the sighting as unlisted, the node holds
// it, and the server takes it once its own sync catches up.
describe('Reporter against a real rating server whose list sync lags', function () {
  this.timeout(120_000);
  const cleanups: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('keeps the sighting the server refuses as unlisted, and delivers it once the server has the version', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const dir = await mkdtemp(join(tmpdir(), 'nrp-reporter-lag-'));
    cleanups.push(() => removeDir(dir));
    // The server syncs its list at start and then only once an hour, unless told to.
    const server = await createRatingServer(
      {
        dataDir: join(dir, 'server'),
        list: dao.list,
        chainId: 31337,
        fromBlock: 0n,
        sync: { pollIntervalMs: 3_600_000, fetchTimeoutMs: 5_000, retryDelayMs: 200 },
        inferenceIntervalMs: 3_600_000,
      },
      { client: publicClient },
    );
    cleanups.push(() => server.stop());

    let node: NrpNode | undefined;
    const sync = new ListSync(
      { list: dao.list, chainId: 31337, fromBlock: 0n, fetchTimeoutMs: 5_000, retryDelayMs: 200 },
      { client: publicClient, blockstore: { get: (cid, o) => (node as NrpNode).helia.blockstore.get(cid, o) } },
    );
    const reportTo = {
      peerId: server.peerId,
      multiaddrs: server.getMultiaddrs(),
      isListed: (cid: CID) => sync.hasCid(cid),
    };
    node = await createNrpNode({
      lists: [sync],
      reporter: { servers: [reportTo], intervalMs: 3_600_000, retryMinMs: 100, retryMaxMs: 200 },
    });
    cleanups.push(() => (node as NrpNode).stop());
    const reporting = node;
    const distributor = await createNrpNode({ adverts: { autoFetch: false } });
    cleanups.push(() => distributor.stop());
    await distributor.helia.libp2p.dial(reporting.helia.libp2p.getMultiaddrs());
    // The server fetches the list payload from the node that holds it.
    await reporting.helia.libp2p.dial(server.helia.libp2p.getMultiaddrs());
    await waitFor(
      'the advert topic',
      () => distributor.helia.libp2p.services.pubsub.getSubscribers('nrp/adverts/1').length > 0,
    );

    // A vote lists the distributor's file; the node syncs at once, the server not yet.
    const bytes = new TextEncoder().encode('listed while the server was not looking');
    const cid = await unixfs(distributor.helia).addBytes(bytes);
    await publishListVersion(dao, reporting.helia.blockstore, {
      version: 1,
      ids: [entryId(cid)],
      added: 1,
      removed: 0,
    });
    await sync.syncOnce();
    expect(sync.current.version).to.equal(1n);
    expect(server.list.current.version).to.equal(0n);

    await distributor.adverts.share(cid, bytes.length, 'bad.txt');
    await waitFor('the evidence', () => reporting.store.countEvidence() === 1);
    const held = nextEvent<HeldEvent>(reporting.reporter, 'held');
    await reporting.reporter.report();
    await reporting.reporter.flush();
    const refusal = await held;
    expect(refusal).to.deep.include({ server: server.peerId, held: 1, resent: 0, dropped: 0 });
    expect(refusal.reason).to.match(/^unlisted-entry: /);
    expect(server.store.stats().sightings).to.equal(0);
    expect(reporting.reporter.held().map((h) => h.cid)).to.deep.equal([cid.toString()]);

    // The server's sync catches up; the next round after the backoff carries the sighting again, and it lands.
    await server.list.syncOnce();
    expect(server.list.current.version).to.equal(1n);
    await waitFor(
      'the held sighting to be due',
      () => (reporting.reporter.held()[0]?.nextAttemptAt ?? 0) <= Date.now(),
    );
    const sent = nextEvent<{ server: string }>(reporting.reporter, 'sent');
    const [round] = await reporting.reporter.report();
    expect(round.sightings).to.equal(1);
    await reporting.reporter.flush();
    await sent;
    expect(server.store.stats().sightings).to.equal(1);
    expect(reporting.reporter.held()).to.deep.equal([]);
    expect(reporting.reporter.pending()).to.deep.equal([]);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Ed25519PrivateKey } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { expect } from 'chai';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { entryId } from '../../src/lists/entry-id.js';
import { EdgeService } from '../../src/node/edges.js';
import { createAdvert, encodeAdvert } from '../../src/node/protocol/advert.js';
import { type EdgeAttestation, edgeToValue } from '../../src/node/protocol/edge.js';
import { peerIdToString } from '../../src/node/protocol/peer.js';
import {
  encodeReport,
  MAX_REPORT_BYTES,
  REPORT_MAX_AGE_MS,
  type Report,
  verifyReport,
} from '../../src/node/protocol/report.js';
import { createSighting } from '../../src/node/protocol/sighting.js';
import { decodeReportAck, REPORT_PROTOCOL, type ReportAck, Reporter } from '../../src/node/reporter.js';
import { request } from '../../src/node/rpc.js';
import { NodeStore } from '../../src/node/store.js';
import {
  type AcceptedReportEvent,
  listedIn,
  type RejectedReportEvent,
  type RejectionReason,
  ReportIntake,
  type ReportIntakeInit,
  ReportVerifier,
  rejectionReasonOf,
} from '../../src/server/intake.js';
import { RateLimiter } from '../../src/server/rate-limit.js';
import { ServerStore } from '../../src/server/store.js';
import { removeDir } from '../helpers/dirs.js';
import { startHost, type TestHost } from '../node/helpers/peers.js';
import { waitFor } from '../node/helpers/wait.js';
import {
  cidOf,
  listOf,
  oneSidedEdge,
  rawReport,
  sightingOf,
  signedEdge,
  signedReport,
  type TestPeer,
  testPeer,
} from './helpers/reports.js';

/** Content on the server's list, and content that is not. */
const LISTED = ['listed one', 'listed two', 'listed three'];

interface TestServer extends TestHost {
  store: ServerStore;
  intake: ReportIntake;
  accepted: AcceptedReportEvent[];
  rejected: RejectedReportEvent[];
  dbPath: string;
  /** Stops the intake and closes its store, as a server shutting down. */
  stop: () => Promise<void>;
}

interface TestClient extends TestHost {
  peer: TestPeer;
}

describe('ReportIntake: a rating server receives reports', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let dir: string;
  let distributor: TestPeer;
  let isListed: ReturnType<typeof listedIn>;

  before(async () => {
    distributor = await testPeer();
    isListed = listedIn(await listOf(LISTED));
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-intake-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  /** A server's host: it takes many connections a second from one address (all test peers are on 127.0.0.1). */
  async function serverHost(): Promise<TestHost> {
    const key = await generateKeyPair('Ed25519');
    const helia = await createNrpHelia({
      privateKey: key,
      libp2p: { connectionManager: { inboundConnectionThreshold: 1_000, maxIncomingPendingConnections: 100 } },
    });
    cleanups.push(() => helia.stop());
    return { key, helia, id: helia.libp2p.peerId.toString() };
  }

  async function server(init: ReportIntakeInit = {}, host?: TestHost): Promise<TestServer> {
    const h = host ?? (await serverHost());
    const dbPath = join(dir, 'server.db');
    const store = ServerStore.open(dbPath);
    const intake = new ReportIntake({ libp2p: h.helia.libp2p, store, isListed }, init);
    const accepted: AcceptedReportEvent[] = [];
    const rejected: RejectedReportEvent[] = [];
    intake.addEventListener('accepted', ({ detail }) => accepted.push(detail));
    intake.addEventListener('rejected', ({ detail }) => rejected.push(detail));
    await intake.start();
    let closed = false;
    const stop = async () => {
      if (closed) return;
      closed = true;
      await intake.stop();
      store.close();
    };
    cleanups.push(stop);
    return { ...h, store, intake, accepted, rejected, dbPath, stop };
  }

  async function client(key?: Ed25519PrivateKey): Promise<TestClient> {
    const host = await startHost({ key });
    cleanups.push(() => host.helia.stop());
    return { ...host, peer: await testPeer(host.key) };
  }

  async function send(from: TestClient, to: TestHost, message: Uint8Array | Report): Promise<ReportAck> {
    const bytes = message instanceof Uint8Array ? message : encodeReport(message);
    const response = await request(from.helia.libp2p, to.helia.libp2p.getMultiaddrs(), REPORT_PROTOCOL, bytes, {
      signal: AbortSignal.timeout(10_000),
    });
    return decodeReportAck(response);
  }

  function nothingStored(s: TestServer) {
    expect(s.store.stats()).to.deep.include({ reports: 0, reporters: 0, edges: 0, sightings: 0 });
  }

  it('accepts a report, stores it with its edges and sightings, then acks', async () => {
    const s = await server();
    const c = await client();
    const neighbours = [await testPeer(), await testPeer()];
    const edges = await Promise.all(neighbours.map((n) => signedEdge(c.peer, n)));
    const sightings = [await sightingOf(distributor, LISTED[0]), await sightingOf(distributor, LISTED[1])];
    const report = await signedReport(c.peer, { seq: 42, edges, sightings });

    const ack = await send(c, s, report);
    expect(ack).to.deep.equal({ seq: 42, accepted: true });
    expect(rejectionReasonOf(ack)).to.equal(undefined);

    const stored = s.store.report(c.id, 42);
    expect(stored).to.include({ reporter: c.id, seq: 42, time: report.time, edges: 2, sightings: 2 });
    expect(stored?.bytes).to.deep.equal(encodeReport(report));
    expect(s.store.lastSeq(c.id)).to.equal(42);
    const storedEdges = s.store.listEdges({ peer: c.id });
    expect(storedEdges).to.have.length(2);
    for (const edge of storedEdges) {
      expect([edge.a, edge.b]).to.include(c.id);
      expect(edge.reportedBy).to.equal(c.id);
    }
    const storedSightings = s.store.listSightings();
    expect(storedSightings.map((x) => x.cid)).to.deep.equal([
      (await cidOf(LISTED[0])).toString(),
      (await cidOf(LISTED[1])).toString(),
    ]);
    expect(storedSightings[0]).to.include({ reportId: stored?.id, fromPeer: peerIdToString(distributor.id) });
    expect(storedSightings[0].advert).to.deep.equal(encodeAdvert(sightings[0].advert));
    expect(s.accepted).to.have.length(1);
    expect(s.accepted[0]).to.include({ reporter: c.id, seq: 42, id: stored?.id });
    expect(s.accepted[0].report.edges).to.have.length(2);
  });

  it("accepts the real node Reporter's reports: edges from its EdgeService, evidence from its store", async () => {
    const s = await server();
    const node = await startHost();
    cleanups.push(() => node.helia.stop());
    const neighbour = await startHost();
    cleanups.push(() => neighbour.helia.stop());
    const nodeStore = NodeStore.open(':memory:');
    cleanups.push(async () => nodeStore.close());
    const edgeServices = [node, neighbour].map((h) => new EdgeService({ libp2p: h.helia.libp2p, privateKey: h.key }));
    for (const edges of edgeServices) {
      await edges.start();
      cleanups.push(() => edges.stop());
    }
    await node.helia.libp2p.dial(neighbour.helia.libp2p.getMultiaddrs());
    await waitFor('the edge', () => edgeServices[0].currentEdges().length === 1);
    for (const text of LISTED.slice(0, 2)) {
      const advert = await createAdvert(distributor.key, { cid: await cidOf(text), size: 1 });
      nodeStore.addEvidence({
        entryId: entryId(advert.cid),
        cid: advert.cid.toString(),
        fromPeer: peerIdToString(advert.sender),
        advert: encodeAdvert(advert),
        seenAt: Date.now(),
      });
    }
    const reporter = new Reporter(
      { libp2p: node.helia.libp2p, privateKey: node.key, store: nodeStore, edges: edgeServices[0] },
      { servers: [{ peerId: s.id, multiaddrs: s.helia.libp2p.getMultiaddrs().map(String) }], intervalMs: 3_600_000 },
    );
    cleanups.push(() => reporter.stop());
    await reporter.start();
    await waitFor('the report to be accepted', () => s.accepted.length === 1 && reporter.pending().length === 0);

    const [stored] = s.store.listReports({ reporter: node.id });
    expect(stored).to.include({ edges: 1, sightings: 2 });
    expect(s.store.listEdges()).to.have.length(1);
    expect([s.store.listEdges()[0].a, s.store.listEdges()[0].b].sort()).to.deep.equal([node.id, neighbour.id].sort());
    expect(s.store.listSightings({ reporter: node.id })).to.have.length(2);
    expect(s.rejected).to.deep.equal([]);
  });

  it('refuses every bad report with its reason, stores nothing, and keeps serving', async () => {
    const s = await server();
    const c = await client();
    const other = await testPeer();
    const neighbour = await testPeer();
    const stranger = await testPeer();
    const goodEdge = await signedEdge(c.peer, neighbour);
    const now = Date.now();
    let seq = 100;

    const forged = await signedReport(c.peer, { seq: ++seq, edges: [goodEdge] });
    forged.signature = forged.signature.slice();
    forged.signature[0] ^= 1;
    const byOther = await signedReport(other, { seq: ++seq });
    const otherSigned = await rawReport(other, { reporter: c.peer.id, seq: ++seq });
    const oneSided = await signedReport(c.peer, {
      seq: ++seq,
      edges: [goodEdge, await oneSidedEdge(c.peer, stranger)],
    });
    const notMine = await rawReport(c.peer, { seq: ++seq, edges: [await signedEdge(neighbour, stranger)] });
    const unlisted = await signedReport(c.peer, {
      seq: ++seq,
      sightings: [await sightingOf(distributor, 'not listed')],
    });
    // The sighting accuses `stranger`, but the advert is the distributor's.
    const misattributed = await sightingOf(distributor, LISTED[0]);
    misattributed.fromPeer = stranger.id;
    const wrongAccused = await rawReport(c.peer, { seq: ++seq, sightings: [misattributed] });
    // The advert names `stranger` as its sender, but the distributor signed it.
    const advert = await createAdvert(distributor.key, { cid: await cidOf(LISTED[1]), size: 1 });
    const forgedEvidence = await signedReport(c.peer, {
      seq: ++seq,
      sightings: [createSighting({ ...advert, sender: stranger.id })],
    });
    const ofItself = await rawReport(c.peer, { seq: ++seq, sightings: [await sightingOf(c.peer, LISTED[2])] });
    const future = await signedReport(c.peer, { seq: ++seq, time: now + 5 * 60_000 });
    const stale = await signedReport(c.peer, { seq: ++seq, time: now - REPORT_MAX_AGE_MS - 60_000 });
    const staleEdge = await signedReport(c.peer, {
      seq: ++seq,
      edges: [await signedEdge(c.peer, neighbour, now - 2 * 60 * 60_000)],
    });
    const tooManyEdges = dagCbor.encode({
      reporter: c.peer.id,
      seq: ++seq,
      time: now,
      edges: Array.from({ length: 1_001 }, () => edgeToValue(goodEdge)),
      sightings: [],
      signature: new Uint8Array(64),
    });
    const extraField = dagCbor.encode({ ...(dagCbor.decode(encodeReport(byOther)) as object), seq: 77, extra: 1 });

    const cases: [string, Uint8Array | Report, RejectionReason, number][] = [
      ['forged signature', forged, 'bad-signature', forged.seq],
      ["another peer's report", byOther, 'wrong-sender', byOther.seq],
      ['signed by another peer than its reporter', otherSigned, 'bad-signature', otherSigned.seq],
      ['an edge signed by one end only', oneSided, 'bad-edge', oneSided.seq],
      ['an edge the reporter is not an end of', notMine, 'bad-edge', notMine.seq],
      ['a stale edge', staleEdge, 'bad-edge', staleEdge.seq],
      ['evidence of an unlisted entry', unlisted, 'unlisted-entry', unlisted.seq],
      ['evidence signed by another than fromPeer', wrongAccused, 'bad-evidence', wrongAccused.seq],
      ['evidence with a forged signature', forgedEvidence, 'bad-evidence', forgedEvidence.seq],
      ['a sighting of the reporter itself', ofItself, 'bad-evidence', ofItself.seq],
      ['a report from the future', future, 'future', future.seq],
      ['a stale report', stale, 'stale', stale.seq],
      ['an oversized report', new Uint8Array(MAX_REPORT_BYTES + 100), 'too-large', 0],
      ['too many edges', tooManyEdges, 'too-large', seq],
      ['malformed bytes', Uint8Array.of(1, 2, 3), 'malformed', 0],
      ['an unexpected field', extraField, 'malformed', 77],
    ];
    for (const [what, message, reason, expectedSeq] of cases) {
      const ack = await send(c, s, message);
      expect(ack.accepted, what).to.equal(false);
      expect(rejectionReasonOf(ack), `${what}: ${ack.reason}`).to.equal(reason);
      expect(ack.seq, what).to.equal(expectedSeq);
      nothingStored(s);
    }
    expect(s.rejected.map((r) => r.reason)).to.deep.equal(cases.map(([, , reason]) => reason));
    expect(s.rejected.every((r) => r.peer === c.id)).to.equal(true);
    expect(s.accepted).to.deep.equal([]);

    // Still serving, and none of the refused sequence numbers counted.
    const good = await signedReport(c.peer, {
      seq: 101,
      edges: [goodEdge],
      sightings: [await sightingOf(distributor, LISTED[2])],
    });
    expect(await send(c, s, good)).to.deep.equal({ seq: 101, accepted: true });
    expect(s.store.stats()).to.deep.include({ reports: 1, edges: 1, sightings: 1 });
  });

  it('refuses a replayed sequence number, also after a restart from the same database', async () => {
    const host = await serverHost();
    const s1 = await server({}, host);
    const c = await client();
    const report = await signedReport(c.peer, { seq: 10 });
    expect(await send(c, s1, report)).to.deep.equal({ seq: 10, accepted: true });
    const again = await send(c, s1, report);
    expect(rejectionReasonOf(again)).to.equal('replayed');
    expect(again.reason).to.match(/last one accepted .* 10$/);
    expect(rejectionReasonOf(await send(c, s1, await signedReport(c.peer, { seq: 9 })))).to.equal('replayed');

    // Restart: a new intake and store on the same file.
    await s1.stop();
    const s2 = await server({}, host);
    expect(rejectionReasonOf(await send(c, s2, report))).to.equal('replayed');
    expect(await send(c, s2, await signedReport(c.peer, { seq: 11 }))).to.deep.equal({ seq: 11, accepted: true });
    expect(s2.store.listReports().map((r) => r.seq)).to.deep.equal([10, 11]);
  });

  it('rate-limits a flood per peer, storing none of it, and keeps serving other peers', async () => {
    const s = await server({ rateLimit: { burst: 3, perSecond: 0.01 } });
    const flooder = await client();
    const acks: ReportAck[] = [];
    for (let seq = 1; seq <= 8; seq++) acks.push(await send(flooder, s, await signedReport(flooder.peer, { seq })));
    expect(acks.map((ack) => ack.accepted)).to.deep.equal([true, true, true, false, false, false, false, false]);
    expect(acks.slice(3).map(rejectionReasonOf)).to.deep.equal(Array(5).fill('rate-limited'));
    expect(acks.map((ack) => ack.seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.store.stats().reports).to.equal(3);
    expect(s.store.lastSeq(flooder.id)).to.equal(3);

    const other = await client();
    expect(await send(other, s, await signedReport(other.peer, { seq: 1 }))).to.deep.equal({ seq: 1, accepted: true });
  });

  it('verifies a repeated edge once, and still refuses a tampered copy of it', async () => {
    const s = await server();
    const c = await client();
    const edges = await Promise.all([1, 2, 3].map(async () => signedEdge(c.peer, await testPeer())));
    expect((await send(c, s, await signedReport(c.peer, { seq: 1, edges }))).accepted).to.equal(true);
    const before = s.intake.verifierStats;
    expect(before.cached).to.equal(3);
    expect((await send(c, s, await signedReport(c.peer, { seq: 2, edges }))).accepted).to.equal(true);
    expect(s.intake.verifierStats.cacheHits - before.cacheHits).to.equal(3);

    const tampered: EdgeAttestation = { ...edges[0], sigB: edges[0].sigB.slice() };
    tampered.sigB[5] ^= 1;
    const ack = await send(c, s, await signedReport(c.peer, { seq: 3, edges: [tampered, edges[1]] }));
    expect(rejectionReasonOf(ack)).to.equal('bad-edge');
  });

  it('stores reports that arrive together, each acked only once stored', async () => {
    const s = await server();
    const clients = await Promise.all(Array.from({ length: 12 }, () => client()));
    const acks = await Promise.all(
      clients.map(async (c) => {
        const results: ReportAck[] = [];
        for (let seq = 1; seq <= 5; seq++) {
          const report = await signedReport(c.peer, {
            seq,
            edges: [await signedEdge(c.peer, distributor)],
            sightings: [await sightingOf(distributor, LISTED[seq % 3])],
          });
          results.push(await send(c, s, report));
        }
        return results;
      }),
    );
    expect(acks.flat().every((ack) => ack.accepted)).to.equal(true);
    expect(s.store.stats()).to.deep.include({ reports: 60, reporters: 12, edges: 12, sightings: 60 });
  });

  it('commits reports that verify together in one transaction (group commit)', async () => {
    const store = ServerStore.open(join(dir, 'server.db'));
    cleanups.push(async () => store.close());
    const batches: number[] = [];
    const counting = {
      lastSeq: (reporter: string) => store.lastSeq(reporter),
      lastSeqs: () => store.lastSeqs(),
      addReports: (reports: Parameters<ServerStore['addReports']>[0]) => {
        batches.push(reports.length);
        return store.addReports(reports);
      },
    };
    const intake = // Never started, so it needs no network.
      new ReportIntake(
        { libp2p: {} as never, store: counting, isListed },
        // On this thread, the checks of all 40 reports end before the first write: one transaction, surely.
        { rateLimit: false, threadPool: false },
      );
    const reporters = await Promise.all(Array.from({ length: 40 }, () => testPeer()));
    const reports = await Promise.all(
      reporters.map(async (r) => signedReport(r, { seq: 1, edges: [await signedEdge(r, distributor)] })),
    );
    const acks = await Promise.all(reports.map((report) => intake.receive(encodeReport(report), report.reporter)));
    expect(acks.every((ack) => ack.accepted)).to.equal(true);
    expect(batches).to.deep.equal([40]);
    expect(store.stats().reports).to.equal(40);
  });

  it('acks nothing when the store fails, and accepts the same report once it works again', async () => {
    const store = ServerStore.open(join(dir, 'server.db'));
    cleanups.push(async () => store.close());
    let failing = true;
    const flaky = {
      lastSeq: (reporter: string) => store.lastSeq(reporter),
      lastSeqs: () => store.lastSeqs(),
      addReports: (reports: Parameters<ServerStore['addReports']>[0]) => {
        if (failing) throw new Error('disk full');
        return store.addReports(reports);
      },
    };
    const intake = new ReportIntake({ libp2p: {} as never, store: flaky, isListed });
    const reporter = await testPeer();
    const bytes = encodeReport(await signedReport(reporter, { seq: 3 }));
    await intake.receive(bytes, reporter.id).then(
      () => expect.fail('acknowledged a report it could not store'),
      (error: Error) => expect(error.message).to.equal('disk full'),
    );
    failing = false;
    expect(await intake.receive(bytes, reporter.id)).to.deep.equal({ seq: 3, accepted: true });
    expect(store.lastSeq(peerIdToString(reporter.id))).to.equal(3);
  });

  it('verifies an edge or an advert that several reports carry at once only once', async () => {
    const store = ServerStore.open(join(dir, 'server.db'));
    cleanups.push(async () => store.close());
    // On the thread pool, as a server runs: the five reports are all being checked at the same time.
    const intake = new ReportIntake({ libp2p: {} as never, store, isListed }, { rateLimit: false });
    const [x, y, ...others] = await Promise.all(Array.from({ length: 5 }, () => testPeer()));
    // Both ends report their edge; every neighbour of a distributor reports the advert it broadcast.
    const edge = await signedEdge(x, y);
    const sighting = await sightingOf(distributor, LISTED[0]);
    const reports = await Promise.all([
      signedReport(x, { seq: 1, edges: [edge], sightings: [sighting] }),
      signedReport(y, { seq: 1, edges: [edge], sightings: [sighting] }),
      ...others.map((peer) => signedReport(peer, { seq: 1, sightings: [sighting] })),
    ]);
    const acks = await Promise.all(reports.map((report) => intake.receive(encodeReport(report), report.reporter)));
    expect(acks.every((ack) => ack.accepted)).to.equal(true);
    expect(intake.verifierStats).to.deep.equal({ cacheMisses: 2, cacheHits: 5, cached: 2 });

    // A forged copy waiting on a good one's check would be wrong: each copy is its own key.
    const forged = {
      ...sighting,
      advert: { ...sighting.advert, signature: Uint8Array.from(sighting.advert.signature) },
    };
    forged.advert.signature[0] ^= 1;
    const [good, bad] = await Promise.all(
      [sighting, forged].map(async (s) => {
        const reporter = await testPeer();
        const report = await signedReport(reporter, { seq: 1, sightings: [s] });
        return intake.receive(encodeReport(report), reporter.id);
      }),
    );
    expect(good, good.reason).to.deep.equal({ seq: 1, accepted: true });
    expect(rejectionReasonOf(bad)).to.equal('bad-evidence');
  });

  it('acks a report only once its commit is synced to disk, and commits what arrives meanwhile next', async () => {
    const store = ServerStore.open(join(dir, 'server.db'));
    cleanups.push(async () => store.close());
    const batches: number[] = [];
    const syncs: { release: () => void; fail: (error: Error) => void }[] = [];
    const slowDisk = {
      lastSeq: (reporter: string) => store.lastSeq(reporter),
      lastSeqs: () => store.lastSeqs(),
      addReports: (reports: Parameters<ServerStore['addReports']>[0], options?: { durable?: boolean }) => {
        batches.push(reports.length);
        return store.addReports(reports, options);
      },
      syncReports: () =>
        new Promise<void>((release, fail) => {
          syncs.push({ release, fail });
        }).then(() => store.syncReports()),
    };
    const intake = new ReportIntake(
      { libp2p: {} as never, store: slowDisk, isListed },
      { rateLimit: false, threadPool: false },
    );
    const [first, second, third] = await Promise.all(Array.from({ length: 3 }, () => testPeer()));
    const bytes = async (peer: TestPeer, seq: number) => encodeReport(await signedReport(peer, { seq }));
    let acked = false;
    const firstAck = intake.receive(await bytes(first, 1), first.id).then((ack) => {
      acked = true;
      return ack;
    });
    await waitFor('the first commit', () => syncs.length === 1);
    // Committed, so a crash of this process would keep it, but the disk has not confirmed it yet.
    expect(store.lastSeq(peerIdToString(first.id))).to.equal(1);
    const later = [second, third].map(async (peer) => intake.receive(await bytes(peer, 1), peer.id));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(acked, 'acknowledged before the sync').to.equal(false);
    expect(batches, 'the later reports wait for the sync').to.deep.equal([1]);

    syncs[0].release();
    expect(await firstAck).to.deep.equal({ seq: 1, accepted: true });
    await waitFor('the second commit', () => syncs.length === 2);
    expect(batches).to.deep.equal([1, 2]);
    syncs[1].release();
    expect((await Promise.all(later)).every((ack) => ack.accepted)).to.equal(true);

    // A failed sync acknowledges nothing; the next report is taken once the disk works.
    const failed = intake.receive(await bytes(first, 2), first.id);
    await waitFor('the third commit', () => syncs.length === 3);
    syncs[2].fail(new Error('I/O error'));
    await failed.then(
      () => expect.fail('acknowledged a report whose sync failed'),
      (error: Error) => expect(error.message).to.equal('I/O error'),
    );
    const next = intake.receive(await bytes(first, 3), first.id);
    await waitFor('the fourth commit', () => syncs.length === 4);
    syncs[3].release();
    expect(await next).to.deep.equal({ seq: 3, accepted: true });
  });

  it('writes an edge again only for an attestation outside the span stored: newer, or older than the first', async () => {
    const store = ServerStore.open(join(dir, 'server.db'));
    cleanups.push(async () => store.close());
    const intake = new ReportIntake({ libp2p: {} as never, store, isListed }, { rateLimit: false });
    const [reporter, neighbour] = await Promise.all([testPeer(), testPeer()]);
    const now = Date.now();
    const at = async (seq: number, minutesAgo: number) => {
      const edges = [await signedEdge(reporter, neighbour, now - minutesAgo * 60_000)];
      const ack = await intake.receive(encodeReport(await signedReport(reporter, { seq, edges })), reporter.id);
      expect(ack.accepted).to.equal(true);
      const [edge] = store.listEdges();
      return [(now - edge.firstTime) / 60_000, (now - edge.time) / 60_000];
    };
    expect(await at(1, 20)).to.deep.equal([20, 20]);
    // A late older attestation moves the edge's start back; a newer one its end.
    expect(await at(2, 40)).to.deep.equal([40, 20]);
    expect(await at(3, 10)).to.deep.equal([40, 10]);
    expect(await at(4, 30)).to.deep.equal([40, 10]);
  });

  it('agrees with the protocol’s verifyReport on what verifies', async () => {
    const verifier = new ReportVerifier({ isListed: () => true });
    const reporter = await testPeer();
    const neighbour = await testPeer();
    const stranger = await testPeer();
    const edge = await signedEdge(reporter, neighbour);
    const sighting = await sightingOf(distributor, LISTED[0]);
    const badSig = await signedReport(reporter, { seq: 1, edges: [edge] });
    badSig.signature = badSig.signature.slice();
    badSig.signature[63] ^= 0x80;
    const wrongEntry = await sightingOf(distributor, LISTED[1]);
    wrongEntry.entryId = entryId(await cidOf(LISTED[2]));
    const reports: [string, Report][] = [
      ['good', await signedReport(reporter, { seq: 1, edges: [edge], sightings: [sighting] })],
      ['bad signature', badSig],
      ['one-sided edge', await signedReport(reporter, { seq: 1, edges: [await oneSidedEdge(reporter, stranger)] })],
      ['third-party edge', await rawReport(reporter, { seq: 1, edges: [await signedEdge(neighbour, stranger)] })],
      ['wrong entry id', await signedReport(reporter, { seq: 1, sightings: [wrongEntry] })],
      ['old advert', await signedReport(reporter, { seq: 1, sightings: [await sightingOf(distributor, 'x', 1)] })],
      ['by another reporter', await rawReport(stranger, { seq: 1 })],
    ];
    for (const [what, report] of reports) {
      const reference = await verifyReport(report, { reporter: reporter.id }).then(
        () => true,
        () => false,
      );
      // Twice: the second run goes through the cache.
      for (const run of [1, 2]) {
        const ours = await verifier.verify(report, { reporter: reporter.id }).then(
          () => true,
          () => false,
        );
        expect(ours, `${what}, run ${run}`).to.equal(reference);
      }
    }
  });

  it('loses no acknowledged report when the server is killed with SIGKILL', async function () {
    this.timeout(120_000);
    const dataDir = join(dir, 'server');
    const listed = await Promise.all(
      LISTED.map(async (text) => Buffer.from(entryId(await cidOf(text))).toString('hex')),
    );
    const children: ChildProcess[] = [];
    cleanups.push(async () => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });
    const startChild = async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'intake-process.ts'), dataDir, listed.join(',')],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      const { peerId, addrs } = JSON.parse(await firstLine(child)) as { peerId: string; addrs: string[] };
      return { child, peerId, addrs: addrs.map((a) => multiaddr(a)) };
    };

    const first = await startChild();
    const clients = await Promise.all(Array.from({ length: 6 }, () => client()));
    const acked: { reporter: string; seq: number; edges: number; sightings: number }[] = [];
    const killAfter = 40;
    let killed = false;
    await Promise.all(
      clients.map(async (c) => {
        for (let seq = 1; seq <= 20 && !killed; seq++) {
          const report = await signedReport(c.peer, {
            seq,
            edges: [await signedEdge(c.peer, distributor)],
            sightings: seq % 2 ? [await sightingOf(distributor, LISTED[seq % 3])] : [],
          });
          let ack: ReportAck;
          try {
            const response = await request(c.helia.libp2p, first.addrs, REPORT_PROTOCOL, encodeReport(report), {
              signal: AbortSignal.timeout(10_000),
            });
            ack = decodeReportAck(response);
          } catch {
            return;
          }
          expect(ack.accepted, ack.reason).to.equal(true);
          acked.push({ reporter: c.id, seq, edges: 1, sightings: report.sightings.length });
          // Right after an ack, with other reports on their way in and being written.
          if (acked.length === killAfter && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        }
      }),
    );
    expect(killed).to.equal(true);
    expect(acked.length).to.be.at.least(killAfter);
    await new Promise((resolve) => (first.child.exitCode === null ? first.child.once('exit', resolve) : resolve(0)));
    expect(first.child.signalCode).to.equal('SIGKILL');

    // Restarted on the same folder: the same server, which refuses a replay of what it acknowledged.
    const second = await startChild();
    expect(second.peerId).to.equal(first.peerId);
    const [c] = clients;
    const replay = await signedReport(c.peer, { seq: 1 });
    const response = await request(c.helia.libp2p, second.addrs, REPORT_PROTOCOL, encodeReport(replay), {
      signal: AbortSignal.timeout(10_000),
    });
    expect(rejectionReasonOf(decodeReportAck(response))).to.equal('replayed');
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));

    const store = ServerStore.open(join(dataDir, 'server.db'));
    try {
      for (const ack of acked) {
        const stored = store.report(ack.reporter, ack.seq);
        expect(stored, `report ${ack.seq} of ${ack.reporter}`).to.not.equal(undefined);
        expect(stored).to.include({ edges: ack.edges, sightings: ack.sightings });
        expect(store.lastSeq(ack.reporter)).to.be.at.least(ack.seq);
      }
      const sightings = store.listSightings();
      for (const ack of acked.filter((a) => a.sightings > 0)) {
        const id = store.report(ack.reporter, ack.seq)?.id;
        expect(sightings.some((s) => s.reportId === id)).to.equal(true);
      }
    } finally {
      store.close();
    }
  });
});

/** The first line a child process prints: the intake's address, once it serves. */
async function firstLine(child: ChildProcess): Promise<string> {
  if (!child.stdout) throw new Error('no stdout');
  for await (const line of createInterface({ input: child.stdout })) return line;
  throw new Error(`the intake process exited (${child.exitCode ?? child.signalCode}) before it served`);
}

describe('RateLimiter: token buckets per sender', () => {
  it('lets a burst through, then one request per refill, per sender', () => {
    const limiter = new RateLimiter({ burst: 2, perSecond: 1 });
    expect([limiter.take('a', 0), limiter.take('a', 0), limiter.take('a', 0)]).to.deep.equal([true, true, false]);
    expect(limiter.take('b', 0), 'another sender has its own bucket').to.equal(true);
    expect(limiter.take('a', 500)).to.equal(false);
    expect(limiter.take('a', 1_000)).to.equal(true);
    expect(limiter.take('a', 1_000)).to.equal(false);
    // Quiet for long: the bucket is full again, but no fuller than the burst.
    expect([limiter.take('a', 60_000), limiter.take('a', 60_000), limiter.take('a', 60_000)]).to.deep.equal([
      true,
      true,
      false,
    ]);
  });

  it('forgets refilled senders first when it tracks too many', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 1 }, { maxSenders: 3 });
    limiter.take('old', 0);
    limiter.take('x', 5_000);
    limiter.take('y', 5_000);
    limiter.take('z', 5_000);
    expect(limiter.size).to.equal(3);
    // 'old' refilled long ago and was dropped; 'x' and 'y' are still limited.
    expect(limiter.take('x', 5_000)).to.equal(false);
    expect(() => new RateLimiter({ burst: 0, perSecond: 1 })).to.throw(RangeError);
  });
});

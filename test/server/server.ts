import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { expect } from 'chai';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { entryId } from '../../src/lists/entry-id.js';
import { decodePayload } from '../../src/lists/payload.js';
import { peerIdBytesOfKey, peerIdToString, toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { encodeReport } from '../../src/node/protocol/report.js';
import {
  type Verdict,
  type VerdictDelta,
  verifyVerdictDelta,
  verifyVerdictSnapshot,
} from '../../src/node/protocol/verdict.js';
import {
  decodeRatingsResponse,
  encodeRatingsRequest,
  RATINGS_PROTOCOL,
  type RatingsResponse,
} from '../../src/node/ratings.js';
import { decodeReportAck, REPORT_PROTOCOL } from '../../src/node/reporter.js';
import { request } from '../../src/node/rpc.js';
import type { RatingServer, RatingServerInit } from '../../src/server/server.js';
import { ServerStore } from '../../src/server/store.js';
import { VerdictIssuer } from '../../src/server/verdicts.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { startHost, type TestHost } from '../node/helpers/peers.js';
import { waitFor } from '../node/helpers/wait.js';
import { listAndSync, startTestServer } from './helpers/api-server.js';
import { cidOf, sightingOf, signedEdge, signedReport, type TestPeer, testPeer } from './helpers/reports.js';

const LISTED = ['listed one', 'listed two', 'listed three'];

describe('RatingServer: the running rating server', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-server-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  async function start(dao: ViemDao, init: Partial<RatingServerInit> = {}): Promise<RatingServer> {
    // The server's own inference defaults (the helper's grace is for the API tests' relays).
    const server = await startTestServer(dao, join(dir, 'server'), { inference: undefined, ...init });
    cleanups.push(() => server.stop());
    return server;
  }

  async function helia(): Promise<NrpHelia> {
    const node = await createNrpHelia();
    cleanups.push(() => node.stop());
    return node;
  }

  async function host(): Promise<TestHost & { peer: TestPeer }> {
    const h = await startHost();
    cleanups.push(() => h.helia.stop());
    return { ...h, peer: await testPeer(h.key) };
  }

  async function getJson(server: RatingServer, path: string, init?: RequestInit) {
    const response = await fetch(`${server.httpUrl}${path}`, init);
    // biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes, checked field by field.
    const body = (await response.json()) as any;
    return { status: response.status, type: response.headers.get('content-type'), body };
  }

  async function sendReport(from: TestHost, server: RatingServer, bytes: Uint8Array) {
    const response = await request(from.helia.libp2p, server.helia.libp2p.getMultiaddrs(), REPORT_PROTOCOL, bytes, {
      signal: AbortSignal.timeout(10_000),
    });
    return decodeReportAck(response);
  }

  async function ask(from: TestHost, server: RatingServer, since?: number): Promise<RatingsResponse> {
    const response = await request(
      from.helia.libp2p,
      server.helia.libp2p.getMultiaddrs(),
      RATINGS_PROTOCOL,
      encodeRatingsRequest({ since }),
      { signal: AbortSignal.timeout(10_000), maxResponseBytes: 1 << 20 },
    );
    return decodeRatingsResponse(response);
  }

  it('starts with a signed empty snapshot and serves its HTTP API, answering nonsense with a JSON 400', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    expect(server.httpUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = JSON.parse(await readFile(join(dir, 'server', 'server.json'), 'utf8'));
    expect(endpoint).to.deep.include({ url: server.httpUrl, peerId: server.peerId });

    const status = await getJson(server, '/status');
    expect(status.status).to.equal(200);
    expect(status.type).to.equal('application/json');
    expect(status.body).to.deep.include({ peerId: server.peerId, http: server.httpUrl });
    expect(status.body.list).to.deep.include({ address: dao.list, chainId: 31337, version: '0', count: 0 });
    expect(status.body.verdicts).to.deep.include({ white: 0, gray: 0, black: 0 });
    expect(status.body.store).to.deep.include({ reports: 0, sightings: 0, verdictSnapshots: 1 });
    expect(status.body.addresses).to.deep.equal(server.getMultiaddrs());

    const verdicts = await getJson(server, '/verdicts');
    expect(verdicts.body).to.deep.include({ server: server.peerId, seq: server.snapshot?.seq, verdicts: [] });
    expect((await getJson(server, '/topology')).body).to.deep.include({ nodes: [], edges: [] });
    const peer = peerIdToString((await testPeer()).id);
    expect((await getJson(server, `/hints/${peer}?limit=3`)).body).to.deep.equal({ peer, hints: [] });

    for (const [path, status] of [
      ['/hints/not-a-peer', 400],
      [`/hints/${peer}?limit=0`, 400],
      [`/hints/${peer}?limit=ten`, 400],
      ['/verdicts?peer=QmNope', 400],
      ['/verdicts?colour=black', 400],
      ['/hints/%E0%A4%A', 400],
      ['/nothing-here', 404],
    ] as const) {
      const response = await getJson(server, path);
      expect(response.status, path).to.equal(status);
      expect(response.type, path).to.equal('application/json');
      expect(response.body.error, path).to.be.a('string');
    }
    expect((await getJson(server, '/verdicts', { method: 'POST', body: 'x' })).status).to.equal(405);

    // Bytes that are not HTTP at all.
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(server.httpUrl);
      const socket = connect(Number(url.port), '127.0.0.1', () => socket.write('\x00\x01 not http at all\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).to.match(/^HTTP\/1\.1 400/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error).to.match(/malformed/);
    expect((await getJson(server, '/status')).status, 'still serving').to.equal(200);
  });

  it('announces the configured addresses instead of the bound ones, and keeps its operator token private', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao, {
      listen: ['/ip4/0.0.0.0/tcp/0'],
      announce: ['/dns4/rating.example.org/tcp/4100'],
    });
    expect(server.getMultiaddrs()).to.deep.equal([`/dns4/rating.example.org/tcp/4100/p2p/${server.peerId}`]);
    const file = join(dir, 'server', 'server.json');
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(file, 'utf8')).token).to.match(/^[0-9a-f]{48}$/);
  });

  it('refuses to start on a busy HTTP port with a clear error, and leaves nothing behind', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
    const port = (busy.address() as AddressInfo).port;
    const failed = await start(dao, { httpPort: port }).then(
      () => expect.fail('started on a busy port'),
      (error: Error) => error,
    );
    expect(failed.name).to.equal('HttpListenError');
    expect(failed.message).to.include(`127.0.0.1:${port}`).and.include('EADDRINUSE');
    // Everything was stopped: the same data dir starts at once.
    const server = await start(dao);
    expect((await getJson(server, '/status')).status).to.equal(200);
  });

  it('pins every list version it syncs, metadata included, and serves it over bitswap', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const proposer = await helia();
    const payload = await listAndSync(dao, server, LISTED, { holder: proposer });
    expect(server.list.current.payloadCid?.equals(payload.cid)).to.equal(true);
    expect((await getJson(server, '/status')).body.list).to.deep.include({
      version: '1',
      count: 3,
      payloadCid: payload.cid.toString(),
    });
    // Once the version's pins are written, the proposer may go away.
    await waitFor('the payload pinned', async () => {
      for await (const pin of server.helia.pins.ls()) if (pin.cid.equals(payload.cid)) return true;
      return false;
    });
    await waitFor('the metadata pinned', async () => {
      const pinned = new Set<string>();
      for await (const pin of server.helia.pins.ls()) pinned.add(pin.cid.toString());
      return payload.header.metadata.every((cid) => pinned.has(cid.toString()));
    });
    await proposer.stop();

    const fresh = await helia();
    await fresh.libp2p.dial(server.helia.libp2p.getMultiaddrs());
    const fetched = await decodePayload(fresh.blockstore, payload.cid, {
      metadata: true,
      signal: AbortSignal.timeout(10_000),
    });
    expect(fetched.header.count).to.equal(3);
    expect(fetched.metadata?.size).to.equal(3);
  });

  it('dates each entry from the first version that listed it, also after a restart', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const proposer = await helia();
    let server = await start(dao);
    const [one, two] = await Promise.all(LISTED.slice(0, 2).map(async (text) => entryId(await cidOf(text))));
    await listAndSync(dao, server, LISTED.slice(0, 1), { holder: proposer, version: 1 });
    const first = server.list.current.publishedAt * 1000;
    await networkHelpers.time.increase(3_600);
    await listAndSync(dao, server, LISTED.slice(0, 2), { holder: proposer, version: 2 });
    const second = server.list.current.publishedAt * 1000;
    expect(second).to.be.greaterThan(first);
    expect(server.effectiveAt(one)).to.equal(first);
    expect(server.effectiveAt(two)).to.equal(second);

    await server.stop();
    await proposer.stop();
    server = await start(dao);
    expect(server.list.current.version).to.equal(2n);
    expect(server.effectiveAt(one), 'from version 1, read back from the pinned payload').to.equal(first);
    expect(server.effectiveAt(two)).to.equal(second);
    expect(server.effectiveAt(entryId(await cidOf('never listed')))).to.equal(undefined);
  });

  it('rates an unreporting distributor black, signs snapshots with a rising seq, and keeps it all across a restart', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const proposer = await helia();
    let server = await start(dao);
    await listAndSync(dao, server, LISTED, { holder: proposer });
    const initial = server.snapshot?.seq as number;
    expect(initial).to.be.a('number');

    // A node reports that a neighbour, which reports to nobody, offered listed content.
    const reporter = await host();
    const distributor = await testPeer();
    const distributorId = peerIdToString(distributor.id);
    const report = await signedReport(reporter.peer, {
      seq: 1,
      edges: [await signedEdge(reporter.peer, distributor)],
      sightings: [await sightingOf(distributor, LISTED[0])],
    });
    expect(await sendReport(reporter, server, encodeReport(report))).to.deep.equal({ seq: 1, accepted: true });

    const outcome = await server.infer();
    expect(outcome.issued).to.equal(true);
    expect(outcome.snapshot.seq).to.equal(initial + 1);
    expect(outcome.verdicts.map((v) => [v.peer, v.rating])).to.deep.equal([[distributorId, 'black']]);
    expect(outcome.sightings).to.deep.equal({ counted: 1, ignored: 0, unlisted: 0 });
    await verifyVerdictSnapshot(outcome.snapshot, { server: server.peerId });
    const [verdict] = (await getJson(server, '/verdicts')).body.verdicts;
    expect(verdict).to.deep.include({ peer: distributorId, rating: 'black', evidence: ['sighting:1'] });
    expect(verdict.reason).to.match(/does not report/);
    const topology = (await getJson(server, '/topology')).body;
    expect(topology.nodes).to.deep.include.members([
      { peer: distributorId, reporting: false, degree: 1, rating: 'black', score: verdict.score },
    ]);
    expect(topology.nodes.find((n: { peer: string }) => n.peer === reporter.id)).to.include({ reporting: true });
    expect((await server.infer()).issued, 'nothing changed, nothing signed').to.equal(false);

    // Nodes get the snapshot, a delta from an older one, or "unchanged"; nonsense gets its stream reset.
    const asker = await host();
    const garbage = await request(
      asker.helia.libp2p,
      server.helia.libp2p.getMultiaddrs(),
      RATINGS_PROTOCOL,
      new TextEncoder().encode('give me everything'),
      { signal: AbortSignal.timeout(10_000) },
    ).then(
      () => 'answered',
      () => 'reset',
    );
    expect(garbage).to.equal('reset');
    const whole = await ask(asker, server);
    expect('snapshot' in whole && whole.snapshot.seq).to.equal(initial + 1);
    const delta = await ask(asker, server, initial);
    if (!('delta' in delta)) expect.fail('expected a delta');
    expect(delta.delta).to.deep.include({ seq: initial + 1, baseSeq: initial, removed: [] });
    expect(delta.delta.set.map((v) => peerIdToString(v.peer))).to.deep.equal([distributorId]);
    await verifyVerdictDelta(delta.delta, { server: server.peerId });
    expect(await ask(asker, server, initial + 1)).to.deep.equal({ unchanged: initial + 1 });

    // A restart on the same data dir, with the proposer gone: same key, same reports, same list, same seq.
    const { peerId } = server;
    const stats = server.store.stats();
    await server.stop();
    await proposer.stop();
    server = await start(dao);
    expect(server.peerId).to.equal(peerId);
    expect(server.store.stats()).to.deep.include({ reports: stats.reports, sightings: stats.sightings });
    expect(server.list.current.version).to.equal(1n);
    expect(server.snapshot?.seq, 'the same verdicts are not signed again').to.equal(initial + 1);
    expect(server.lastInference?.verdicts.map((v) => [v.peer, v.rating])).to.deep.equal([[distributorId, 'black']]);
    const replay = await sendReport(reporter, server, encodeReport(report));
    expect(replay.accepted, 'a replay is refused after the restart').to.equal(false);

    // New evidence: the next snapshot continues the sequence.
    const second = await testPeer();
    const next = await signedReport(reporter.peer, {
      seq: 2,
      edges: [await signedEdge(reporter.peer, second)],
      sightings: [await sightingOf(second, LISTED[1])],
    });
    expect((await sendReport(reporter, server, encodeReport(next))).accepted).to.equal(true);
    const after = await server.infer();
    expect(after.snapshot.seq).to.equal(initial + 2);
    expect(after.verdicts.map((v) => v.rating)).to.deep.equal(['black', 'black']);
    expect(toPeerIdBytes(peerId)).to.deep.equal(after.snapshot.server);
  });
});

describe('VerdictIssuer: when a new snapshot is worth signing', () => {
  it('signs again for a new rating, reason or expiry, or a score that drifted past the tolerance, not before', async () => {
    const store = ServerStore.open(':memory:');
    const privateKey = await generateKeyPair('Ed25519');
    const issuer = new VerdictIssuer({ store, privateKey }, { scoreTolerance: 0.1, firstSeq: () => 7 });
    const peer = (await testPeer()).id;
    const verdict = (changes: Partial<Verdict> = {}): Verdict => ({
      peer,
      rating: 'black',
      score: -4,
      reason: 'offered listed content',
      evidence: ['sighting:1'],
      expiresAt: 2_000_000_000_000,
      ...changes,
    });
    const now = Date.now();
    expect((await issuer.issue([verdict()], { now }))?.seq, 'the first seq of an empty store').to.equal(7);
    expect(await issuer.issue([verdict({ score: -3.7 })], { now }), 'a score within 10%').to.equal(undefined);
    expect((await issuer.issue([verdict({ score: -3.5 })], { now }))?.seq, 'past 10%').to.equal(8);
    expect((await issuer.issue([verdict({ score: -3.5, rating: 'gray' })], { now }))?.seq).to.equal(9);
    const sooner = verdict({ score: -3.5, rating: 'gray', expiresAt: now + 1 });
    expect((await issuer.issue([sooner], { now }))?.seq, 'an earlier expiry').to.equal(10);
    expect((await issuer.issue([], { now }))?.seq, 'a verdict withdrawn').to.equal(11);
    expect(await issuer.issue([], { now })).to.equal(undefined);

    // Reloaded, it goes on from the store; a delta from any stored seq is signed by the same key.
    const reloaded = new VerdictIssuer({ store, privateKey });
    expect(reloaded.load()?.seq).to.equal(11);
    const delta = await reloaded.delta(8);
    expect(delta).to.deep.include({ seq: 11, baseSeq: 8, set: [] });
    expect(delta?.removed).to.deep.equal([peer]);
    await verifyVerdictDelta(delta as VerdictDelta, { server: peerIdBytesOfKey(privateKey) });
    expect(await reloaded.delta(11)).to.equal(undefined);
    expect(await reloaded.delta(3), 'no such snapshot: the node gets the whole one').to.equal(undefined);
    store.close();
  });
});

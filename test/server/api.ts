import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { bytesToHex, hexToBytes } from 'viem';
import { registerServer } from '../../src/chain/registry.js';
import { decodeAdvert, verifyAdvertFrom } from '../../src/node/protocol/advert.js';
import { peerIdToString, toPeerIdBytes } from '../../src/node/protocol/peer.js';
import { dashboardUrl } from '../../src/server/endpoint.js';
import type { RatingServer, RatingServerInit } from '../../src/server/server.js';
import { type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { endpointOf, LISTED, listAndSync, populate, report, startTestServer } from './helpers/api-server.js';
import { POLICY_CID } from './helpers/governance.js';
import { cidOf, sightingOf, signedEdge, testPeer } from './helpers/reports.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, checked field by field.
type Json = any;

describe('Rating server HTTP API: reports, evidence, list, registry', function () {
  this.timeout(60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-api-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    await removeDir(dir);
  });

  async function start(dao: ViemDao, init: Partial<RatingServerInit> = {}): Promise<RatingServer> {
    const server = await startTestServer(dao, join(dir, 'server'), init);
    cleanups.push(() => server.stop());
    return server;
  }

  async function get(server: RatingServer, path: string, init?: RequestInit) {
    const response = await fetch(`${server.httpUrl}${path}`, init);
    const type = response.headers.get('content-type');
    const body: Json = type === 'application/json' ? await response.json() : await response.text();
    return { status: response.status, type, body };
  }

  /** Every request answers JSON `{error}` with `status`, and the server keeps serving. */
  async function expectError(server: RatingServer, path: string, status: number, init?: RequestInit) {
    const response = await get(server, path, init);
    expect(response.status, path).to.equal(status);
    expect(response.type, path).to.equal('application/json');
    expect(response.body.error, path).to.be.a('string').and.not.equal('internal error');
    return response.body.error as string;
  }

  it('pages through recent reports, newest first, without their signed bytes', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const { ids } = await populate(dao, server);
    const reporter = await testPeer();
    for (let seq = 1; seq <= 3; seq++) await report(server, reporter, { seq });

    const all = (await get(server, '/reports')).body;
    expect(all.reports).to.have.length(5);
    expect(all).to.not.have.property('next');
    expect(all.reports[0]).to.have.all.keys('id', 'reporter', 'seq', 'time', 'receivedAt', 'edges', 'sightings');
    expect(all.reports.map((r: Json) => [r.reporter, r.seq])).to.deep.equal([
      [peerIdToString(reporter.id), 3],
      [peerIdToString(reporter.id), 2],
      [peerIdToString(reporter.id), 1],
      [ids.second, 1],
      [ids.first, 1],
    ]);
    expect(all.reports[4]).to.include({ edges: 2, sightings: 1 });

    const first = (await get(server, '/reports?limit=2')).body;
    expect(first.reports.map((r: Json) => r.id)).to.deep.equal([all.reports[0].id, all.reports[1].id]);
    expect(first.next).to.equal(String(all.reports[1].id));
    const second = (await get(server, `/reports?limit=2&before=${first.next}`)).body;
    expect(second.reports.map((r: Json) => r.id)).to.deep.equal([all.reports[2].id, all.reports[3].id]);
    const last = (await get(server, `/reports?limit=2&before=${second.next}`)).body;
    expect(last.reports.map((r: Json) => r.id)).to.deep.equal([all.reports[4].id]);
    expect(last).to.not.have.property('next');
    const mine = (await get(server, `/reports?reporter=${ids.first}`)).body;
    expect(mine.reports.map((r: Json) => r.reporter)).to.deep.equal([ids.first]);

    for (const path of [
      '/reports?limit=0',
      '/reports?limit=501',
      '/reports?limit=ten',
      '/reports?limit=',
      '/reports?before=-1',
      '/reports?before=1.5',
      '/reports?reporter=nobody',
      '/reports?page=2',
    ]) {
      await expectError(server, path, 400);
    }
    expect((await get(server, '/reports?limit=500')).status).to.equal(200);
  });

  it('resolves the evidence a verdict cites: the sighting, its reporter and the accused peer’s signed advert', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const { ids } = await populate(dao, server);
    const verdicts = (await get(server, '/verdicts')).body.verdicts;
    const black = verdicts.find((v: Json) => v.peer === ids.distributor);
    expect(black).to.include({ rating: 'black' });
    expect(black.evidence).to.have.length.greaterThan(0);
    const [ref] = black.evidence;
    expect(ref).to.match(/^sighting:\d+$/);

    const evidence = (await get(server, `/evidence/${ref}`)).body;
    expect(evidence).to.include({
      ref,
      kind: 'sighting',
      reporter: ids.first,
      fromPeer: ids.distributor,
      cid: (await cidOf(LISTED[0])).toString(),
    });
    expect(evidence.report).to.include({ seq: 1 });
    // The advert is the distributor's own signature: anyone can check it from the JSON alone.
    const advert = decodeAdvert(hexToBytes(evidence.advert));
    expect(bytesToHex(advert.signature)).to.equal(evidence.advertSignature);
    expect(advert.time).to.equal(evidence.advertTime);
    await verifyAdvertFrom(advert, ids.distributor);
    expect((await get(server, `/evidence/${ref.slice('sighting:'.length)}`)).body, 'the bare id').to.deep.equal(
      evidence,
    );

    const forPeer = (await get(server, `/evidence?peer=${ids.distributor}`)).body;
    expect(forPeer).to.include({ peer: ids.distributor, rating: 'black', reason: black.reason, score: black.score });
    expect(forPeer.evidence.map((e: Json) => e.ref)).to.deep.equal(black.evidence);
    expect(forPeer.evidence[0]).to.deep.equal(evidence);
    const gray = (await get(server, `/evidence?peer=${ids.first}`)).body;
    expect(gray).to.include({ rating: 'gray' });
    expect(gray.evidence[0]).to.include({ kind: 'sighting', fromPeer: ids.first, reporter: ids.second });

    await expectError(server, '/evidence/sighting:999999', 404);
    await expectError(server, '/evidence/report:1', 400);
    await expectError(server, '/evidence/sighting:', 400);
    await expectError(server, `/evidence?peer=${ids.second}`, 404);
    await expectError(server, '/evidence?peer=QmNope', 400);
    await expectError(server, '/evidence', 400);
    await expectError(server, `/evidence/${ref}?peer=${ids.first}`, 400);
  });

  it('lists the list’s versions newest first, which is in force and which are stored here', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const empty = (await get(server, '/list')).body;
    expect(empty).to.deep.equal({ address: dao.list, current: '0', versions: [] });
    const one = await listAndSync(dao, server, LISTED.slice(0, 1));
    const two = await listAndSync(dao, server, LISTED.slice(0, 2));

    const view = (await get(server, '/list')).body;
    expect(view).to.include({ address: dao.list, current: '2' });
    expect(view.versions).to.have.length(2);
    expect(view.versions[0]).to.include({
      version: '2',
      status: 'in-force',
      count: 2,
      added: 1,
      removed: 0,
      payloadCid: two.cid.toString(),
      stored: true,
      publishedAt: server.list.current.publishedAt * 1000,
    });
    expect(view.versions[0].transactionHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(view.versions[1]).to.include({ version: '1', status: 'superseded', payloadCid: one.cid.toString() });

    const first = (await get(server, '/list?limit=1')).body;
    expect(first.versions.map((v: Json) => v.version)).to.deep.equal(['2']);
    expect(first.next).to.equal('2');
    const rest = (await get(server, `/list?limit=1&before=${first.next}`)).body;
    expect(rest.versions.map((v: Json) => v.version)).to.deep.equal(['1']);
    expect(rest).to.not.have.property('next');
    await expectError(server, '/list?before=two', 400);
    await expectError(server, '/list?limit=9999', 400);
  });

  it('shows the registry’s servers, this one marked, or says there is no registry; a chain error is a 502', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    let server = await start(dao);
    const none = (await get(server, '/registry')).body;
    expect(none).to.include({ registry: null });
    expect(none.servers).to.deep.equal([]);
    expect(none.note).to.match(/registry/);
    await server.stop();

    server = await start(dao, { registry: dao.registry });
    const other = await testPeer();
    await registerServer(dao.holders[0], {
      registry: dao.registry,
      peerId: other.id,
      multiaddrs: ['/ip4/127.0.0.1/tcp/4999'],
      policyCid: POLICY_CID,
      list: dao.list,
    });
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: toPeerIdBytes(server.peerId),
      multiaddrs: server.getMultiaddrs(),
      policyCid: POLICY_CID,
      list: dao.list,
    });
    const view = (await get(server, '/registry')).body;
    expect(view.registry).to.equal(dao.registry);
    expect(view.readAt).to.be.a('number');
    expect(view.servers.map((s: Json) => s.serverId)).to.deep.equal([serverId.toString(), '1']);
    expect(view.servers[0]).to.deep.include({
      status: 'applied',
      peerId: server.peerId,
      self: true,
      list: dao.list,
      policyCid: POLICY_CID,
      multiaddrs: server.getMultiaddrs(),
    });
    expect(view.servers[0].registeredAt).to.be.greaterThan(1_600_000_000_000);
    expect(view.servers[1]).to.include({ peerId: peerIdToString(other.id), self: false });
    const page = (await get(server, '/registry?limit=1')).body;
    expect(page.servers).to.have.length(1);
    expect(page.next).to.equal(serverId.toString());
    expect(
      (await get(server, `/registry?before=${page.next}`)).body.servers.map((s: Json) => s.serverId),
    ).to.deep.equal(['1']);
    expect((await get(server, '/registry?status=active')).body.servers).to.deep.equal([]);
    await expectError(server, '/registry?status=dormant', 400);
    await server.stop();

    // Not a registry at all: the read fails, the API says so, and keeps serving.
    server = await start(dao, { registry: dao.token });
    expect(await expectError(server, '/registry', 502)).to.include(dao.token);
    expect((await get(server, '/status')).status).to.equal(200);
  });

  it('refuses operator routes without the right token, and gives JSON 404 and 405 for unknown paths and methods', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const server = await start(dao);
    const { token } = await endpointOf(join(dir, 'server'));
    expect(dashboardUrl({ url: server.httpUrl, token })).to.equal(`${server.httpUrl}/#token=${token}`);
    const submitted = await get(server, '/tips', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cid: (await cidOf('tip')).toString(), category: 'csam', reason: 'seen it offered' }),
    });
    expect(submitted.status).to.equal(200);
    const { id } = submitted.body;
    const accept = (authorization?: string) =>
      get(server, `/tips/${id}/accept`, { method: 'POST', headers: authorization ? { authorization } : {} });

    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `bearer ${token}`]) {
      const refused = await accept(authorization);
      expect(refused.status, String(authorization)).to.equal(401);
      expect(refused.body.error).to.match(/operator token/);
    }
    expect(
      (await get(server, '/tips?status=pending')).body.tips.map((t: Json) => t.id),
      'still pending',
    ).to.deep.equal([id]);
    const accepted = await accept(`Bearer ${token}`);
    expect(accepted.status).to.equal(200);
    expect(accepted.body).to.include({ id, status: 'accepted' });

    await expectError(server, '/nothing-here', 404);
    await expectError(server, '/dashboard/secret.txt', 404);
    await expectError(server, '/dashboard/../package.json', 404);
    await expectError(server, '/reports', 405, { method: 'POST', body: '{}' });
    await expectError(server, '/registry', 405, { method: 'POST', body: '{}' });
    expect((await get(server, '/status')).status, 'still serving').to.equal(200);
  });

  it('keeps when each edge was first attested across a restart, and prunes old verdict snapshots', async () => {
    const dao = await networkHelpers.loadFixture(viemDaoFixture);
    const dataDir = join(dir, 'server');
    let server = await start(dao, { keepVerdictSnapshots: 2 });
    await listAndSync(dao, server, LISTED);
    const [reporter, neighbour] = await Promise.all([testPeer(), testPeer()]);
    const now = Date.now();
    const firstSeen = now - 20 * 60_000;
    await report(server, reporter, {
      seq: 1,
      time: now - 60_000,
      edges: [await signedEdge(reporter, neighbour, firstSeen)],
    });
    await report(server, reporter, { seq: 2, edges: [await signedEdge(reporter, neighbour, now)] });
    await server.infer();
    const edges = (await get(server, '/topology')).body.edges;
    expect(edges).to.have.length(1);
    expect(edges[0]).to.include({ firstSeen, lastSeen: now, live: true });

    // Three snapshots in a row (each a new verdict): only the newest two stay.
    for (let i = 0; i < 3; i++) {
      const distributor = await testPeer();
      await report(server, reporter, {
        seq: 3 + i,
        edges: [await signedEdge(reporter, distributor)],
        sightings: [await sightingOf(distributor, LISTED[i])],
      });
      expect((await server.infer()).issued).to.equal(true);
    }
    expect(server.store.stats().verdictSnapshots).to.equal(2);
    const seq = server.snapshot?.seq as number;
    expect(server.store.verdictSnapshot(seq - 1)).to.not.equal(undefined);
    expect(server.store.verdictSnapshot(seq - 2)).to.equal(undefined);

    await server.stop();
    server = await startTestServer(dao, dataDir);
    cleanups.push(() => server.stop());
    const after = (await get(server, '/topology')).body.edges;
    expect(after.find((e: Json) => e.lastSeen === now)).to.include({ firstSeen, lastSeen: now });
    expect(server.snapshot?.seq).to.equal(seq);
  });
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dagCbor from '@ipld/dag-cbor';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { expect } from 'chai';
import { RegistrySync } from '../../src/chain/registry-sync.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { createNrpNode, type NrpNode } from '../../src/node/node.js';
import { peerIdToString } from '../../src/node/protocol/peer.js';
import { createVerdictSnapshot, encodeVerdictSnapshot } from '../../src/node/protocol/verdict.js';
import {
  decodeRatingsRequest,
  decodeRatingsResponse,
  encodeRatingsRequest,
  encodeRatingsResponse,
  type FollowedServer,
  InvalidFollowedServerError,
  RATINGS_PROTOCOL,
  RatingsClient,
  type RejectedVerdictsEvent,
  type UnreachableServerEvent,
  type VerdictsEvent,
} from '../../src/node/ratings.js';
import { request } from '../../src/node/rpc.js';
import { publicClient, type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { VerdictPublisher } from './helpers/verdict-publisher.js';
import { record, waitFor } from './helpers/wait.js';
import { expectError, newPeer, type TestPeer } from './protocol/helpers.js';

const MINUTE = 60_000;

describe('ratings client', function () {
  this.timeout(60_000);
  let dao: ViemDao;
  let registry: RegistrySync;
  let rated: TestPeer[];
  const publishers: VerdictPublisher[] = [];
  const nodes: NrpNode[] = [];
  const dirs: string[] = [];

  before(async () => {
    rated = await Promise.all([newPeer(), newPeer(), newPeer()]);
  });
  beforeEach(async () => {
    dao = await networkHelpers.loadFixture(viemDaoFixture);
    registry = new RegistrySync({ registry: dao.registry, chainId: 31337, fromBlock: 0n }, { client: publicClient });
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    await Promise.all(publishers.splice(0).map((publisher) => publisher.stop().catch(() => {})));
    await Promise.all(dirs.splice(0).map((dir) => removeDir(dir)));
  });

  async function publisher(options: Partial<Parameters<typeof VerdictPublisher.start>[0]> = {}) {
    const started = await VerdictPublisher.start({ dao, ...options });
    publishers.push(started);
    await registry.syncOnce();
    return started;
  }

  /**
   * A node (createNrpNode) following `servers`. Without `intervalMs` it is polled by hand: the loop polls once
   * at start, and polls of a server run one after another, so after one `pollOnce` the test's own are the only.
   */
  async function node(options: {
    servers: FollowedServer[];
    dataDir?: string;
    intervalMs?: number;
    maxResponseBytes?: number;
  }) {
    const started = await createNrpNode({
      registry,
      ratingServers: options.servers,
      dataDir: options.dataDir,
      ratings: {
        intervalMs: options.intervalMs ?? 3_600_000,
        maxResponseBytes: options.maxResponseBytes,
        timeoutMs: 5_000,
      },
    });
    nodes.push(started);
    if (options.intervalMs === undefined) await started.ratings.pollOnce();
    return started;
  }

  describe('wire format', () => {
    it('round-trips requests and responses and refuses anything else', async () => {
      expect(decodeRatingsRequest(encodeRatingsRequest())).to.deep.equal({});
      expect(decodeRatingsRequest(encodeRatingsRequest({ since: 7 }))).to.deep.equal({ since: 7 });
      await expectError(() => decodeRatingsRequest(dagCbor.encode({ since: 1, more: true })), 'MessageDecodeError');
      await expectError(() => decodeRatingsRequest(dagCbor.encode({ since: -1 })), 'MessageDecodeError');
      await expectError(() => decodeRatingsRequest(new Uint8Array(65)), 'MessageTooLargeError');

      const server = await newPeer();
      const snapshot = await createVerdictSnapshot(server.key, {
        seq: 1,
        verdicts: [
          { peer: rated[0].id, rating: 'black', score: -1, reason: 'r', evidence: [], expiresAt: Date.now() + 1 },
        ],
      });
      expect(decodeRatingsResponse(encodeRatingsResponse({ snapshot }))).to.deep.equal({ snapshot });
      expect(decodeRatingsResponse(encodeRatingsResponse({ unchanged: 4 }))).to.deep.equal({ unchanged: 4 });
      const bytes = encodeVerdictSnapshot(snapshot);
      for (const bad of [{}, { snapshot: bytes, unchanged: 1 }, { snapshot: 'x' }, { delta: bytes }, [bytes]]) {
        await expectError(() => decodeRatingsResponse(dagCbor.encode(bad)), 'MessageDecodeError');
      }
    });

    it('refuses a misconfigured server', () => {
      const make = (peerId: string, multiaddrs: string[] = [], priority = 'high') =>
        new RatingsClient({ registry }, { servers: [{ peerId, multiaddrs, priority: priority as 'high' }] });
      expect(() => make('not a peer id')).to.throw(InvalidFollowedServerError);
      const id = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf';
      expect(() => make(id, [], 'urgent')).to.throw(InvalidFollowedServerError, /priority/);
      expect(() => make(id, ['nonsense'])).to.throw(InvalidFollowedServerError, /not a multiaddr/);
      expect(() =>
        make(id, ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK']),
      ).to.throw(InvalidFollowedServerError, /another peer/);
    });
  });

  it('applies a snapshot, then deltas, from a server whose key is active; unchanged needs nothing new', async () => {
    const server = await publisher();
    const client = await node({ servers: [server.followed('high')] });
    const events = record<VerdictsEvent>(client.ratings, 'verdicts');

    await server.publish([server.verdict(rated[0].id, 'black', MINUTE), server.verdict(rated[1].id, 'gray', MINUTE)]);
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'applied']]));
    const [verdict] = client.ratings.verdictsFor(rated[0].id);
    expect(verdict).to.include({ server: server.peerId, priority: 'high', rating: 'black', seq: 1 });
    expect(verdict.evidence).to.deep.equal(['report:1']);
    expect(client.ratings.verdictsFor(rated[1].id)[0].rating).to.equal('gray');

    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'unchanged']]));

    // seq 2 drops the gray verdict and adds one: the client asks from seq 1 and gets a delta.
    await server.publish([server.verdict(rated[0].id, 'black', MINUTE), server.verdict(rated[2].id, 'gray', MINUTE)]);
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'applied']]));
    expect(client.ratings.verdictsFor(rated[1].id)).to.deep.equal([]);
    expect(client.ratings.verdictsFor(rated[2].id)[0]).to.include({ rating: 'gray', seq: 2 });
    expect(events.map((e) => e.via).filter((via) => via !== 'registry')).to.deep.equal(['snapshot', 'delta']);
    expect(client.ratings.allVerdicts().map((v) => v.peer)).to.have.members(
      [rated[0], rated[2]].map((p) => peerIdToString(p.id)),
    );
  });

  it('ignores verdicts signed by an unregistered or not yet active key, and saying why', async () => {
    const stranger = await publisher({ status: 'unregistered' });
    const applicant = await publisher({ status: 'applied' });
    const client = await node({ servers: [stranger.followed('high'), applicant.followed('low')] });
    const rejected = record<RejectedVerdictsEvent>(client.ratings, 'rejected');
    await stranger.publish([stranger.verdict(rated[0].id, 'black', MINUTE)]);
    await applicant.publish([applicant.verdict(rated[0].id, 'black', MINUTE)]);

    const outcomes = await client.ratings.pollOnce();
    expect([...outcomes.values()]).to.deep.equal(['rejected', 'rejected']);
    expect(client.ratings.verdictsFor(rated[0].id)).to.deep.equal([]);
    const why = new Map(rejected.map((e) => [e.server, e]));
    expect(why.get(stranger.peerId)).to.include({ reason: 'inactive-key', seq: 1 });
    expect(why.get(stranger.peerId)?.message).to.match(/not registered/);
    expect(why.get(applicant.peerId)?.message).to.match(/is applied in the registry, not active/);

    // Once a vote activates it, the same server's verdicts count.
    await applicant.setStatus('active');
    await registry.syncOnce();
    const after = await client.ratings.pollOnce();
    expect(after.get(applicant.peerId)).to.equal('applied');
    expect(after.get(stranger.peerId)).to.equal('rejected');
    expect(client.ratings.verdictsFor(rated[0].id).map((v) => v.server)).to.deep.equal([applicant.peerId]);
  });

  it("sets a suspended server's verdicts aside and refuses its new ones", async () => {
    const server = await publisher();
    const client = await node({ servers: [server.followed('high')] });
    await server.publish([server.verdict(rated[0].id, 'black', MINUTE)]);
    await client.ratings.pollOnce();
    expect(client.ratings.verdictsFor(rated[0].id)).to.have.length(1);

    await server.setStatus('suspended');
    await registry.syncOnce();
    expect(client.ratings.verdictsFor(rated[0].id), 'a suspended key counts no more').to.deep.equal([]);
    const events = record<VerdictsEvent>(client.ratings, 'verdicts');
    const rejected = record<RejectedVerdictsEvent>(client.ratings, 'rejected');
    await server.publish([server.verdict(rated[1].id, 'black', MINUTE)]);
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'rejected']]));
    expect(events).to.deep.equal([{ server: server.peerId, seq: 1, via: 'registry' }]);
    expect(rejected[0]).to.include({ reason: 'inactive-key', seq: 2 });
    expect(rejected[0].message).to.match(/suspended/);
    expect(client.ratings.verdictsFor(rated[1].id)).to.deep.equal([]);

    // Reactivated by a vote, its last accepted verdicts apply again; the refused seq 2 is taken now.
    await server.setStatus('active');
    await registry.syncOnce();
    expect(client.ratings.verdictsFor(rated[0].id)).to.have.length(1);
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'applied']]));
    expect(client.ratings.verdictsFor(rated[1].id)).to.have.length(1);
  });

  it('keeps the last verdicts while the server is down, until each expires, and across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'nrp-ratings-'));
    dirs.push(dataDir);
    const server = await publisher();
    const followed = [server.followed('high')];
    // This one polls on its own loop: no pollOnce calls.
    let client = await node({ servers: followed, dataDir, intervalMs: 200 });
    await server.publish([server.verdict(rated[0].id, 'black', 3_000), server.verdict(rated[1].id, 'gray', MINUTE)]);
    await waitFor('the verdicts', () => client.ratings.verdictsFor(rated[1].id).length === 1);

    await server.stop();
    const unreachable = record<UnreachableServerEvent>(client.ratings, 'unreachable');
    await waitFor('a poll to fail', () => unreachable.length >= 2);
    expect(unreachable[0].server).to.equal(server.peerId);
    expect(client.ratings.verdictsFor(rated[0].id)).to.have.length(1);
    expect(client.ratings.verdictsFor(rated[1].id)).to.have.length(1);

    // A restart reads them back from ratings.db before asking anyone.
    await client.stop();
    nodes.splice(nodes.indexOf(client), 1);
    client = await node({ servers: followed, dataDir });
    expect(client.ratings.verdictsFor(rated[0].id)[0]).to.include({ rating: 'black', seq: 1 });
    expect(client.ratings.verdictsFor(rated[1].id)[0]).to.include({ rating: 'gray', seq: 1 });
    expect(client.ratings.servers).to.deep.equal([{ peerId: server.peerId, priority: 'high', seq: 1, active: true }]);

    // Each runs out on its own expiry, server or no server.
    const expiresAt = client.ratings.verdictsFor(rated[0].id)[0].expiresAt;
    await waitFor('the black verdict to expire', () => Date.now() > expiresAt, 10_000);
    expect(client.ratings.verdictsFor(rated[0].id)).to.deep.equal([]);
    expect(client.ratings.verdictsFor(rated[1].id)).to.have.length(1);
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'unreachable']]));
    expect(client.ratings.verdictsFor(rated[1].id)).to.have.length(1);
  });

  it('refuses malformed, oversized, foreign, badly signed, future-dated and replayed answers, and goes on', async () => {
    const server = await publisher();
    const client = await node({ servers: [server.followed('high')], maxResponseBytes: 4096 });
    const rejected = record<RejectedVerdictsEvent>(client.ratings, 'rejected');
    const lastReason = async () => {
      const before = rejected.length;
      expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'rejected']]));
      expect(rejected.length).to.equal(before + 1);
      return rejected[rejected.length - 1];
    };
    const good = await server.publish([server.verdict(rated[0].id, 'black', MINUTE)], { seq: 5 });
    await client.ratings.pollOnce();

    await server.serveRaw(new Uint8Array([0xff, 0x00, 0x13]));
    expect((await lastReason()).reason).to.equal('malformed');
    await server.serveRaw(dagCbor.encode({ snapshot: encodeVerdictSnapshot(good), extra: 1 }));
    expect((await lastReason()).reason).to.equal('malformed');

    const many = await Promise.all(Array.from({ length: 60 }, async () => (await newPeer()).id));
    await server.publish(
      many.map((peer) => server.verdict(peer, 'gray', MINUTE)),
      { seq: 6 },
    );
    expect((await lastReason()).reason).to.equal('too-large');

    const forger = await generateKeyPair('Ed25519');
    await server.serve(await createVerdictSnapshot(forger, { seq: 7, verdicts: [] }));
    expect(await lastReason()).to.include({ reason: 'wrong-server', seq: 7 });

    const honest = await createVerdictSnapshot(server.key, { seq: 8, verdicts: [] });
    const signature = honest.signature.slice();
    signature[0] ^= 1;
    await server.serve({ ...honest, signature });
    expect(await lastReason()).to.include({ reason: 'bad-signature', seq: 8 });
    await server.serve({ ...honest, verdicts: [server.verdict(rated[2].id, 'black', MINUTE)] });
    expect((await lastReason()).reason).to.equal('bad-signature');

    await server.serve(
      await createVerdictSnapshot(server.key, { seq: 9, issuedAt: Date.now() + 10 * MINUTE, verdicts: [] }),
    );
    expect((await lastReason()).reason).to.equal('stale');

    await server.serve(await createVerdictSnapshot(server.key, { seq: 4, verdicts: [] }));
    expect(await lastReason()).to.include({ reason: 'replayed', seq: 4 });

    // Nothing refused touched the verdicts in force, and the client still takes a good snapshot.
    expect(client.ratings.verdictsFor(rated[0].id)[0]).to.include({ seq: 5 });
    await server.publish([server.verdict(rated[1].id, 'black', MINUTE)], { seq: 10 });
    expect(await client.ratings.pollOnce()).to.deep.equal(new Map([[server.peerId, 'applied']]));
    expect(client.ratings.verdictsFor(rated[0].id)).to.deep.equal([]);
    expect(client.ratings.verdictsFor(rated[1].id)[0]).to.include({ seq: 10 });
  });

  it('serves snapshots, deltas and unchanged, and resets a malformed request without stopping', async () => {
    const server = await publisher();
    const asker: NrpHelia = await createNrpHelia();
    try {
      const ask = (message: Uint8Array) =>
        request(asker.libp2p, server.helia.libp2p.getMultiaddrs(), RATINGS_PROTOCOL, message, {
          signal: AbortSignal.timeout(5_000),
        });
      const nothingYet = await ask(encodeRatingsRequest()).then(
        () => 'answered',
        (error: Error) => error.name,
      );
      expect(nothingYet, 'a server with no snapshot resets the stream').to.not.equal('answered');
      await server.publish([server.verdict(rated[0].id, 'black', MINUTE)]);
      await server.publish([server.verdict(rated[1].id, 'black', MINUTE)]);
      const full = decodeRatingsResponse(await ask(encodeRatingsRequest()));
      expect(full).to.have.property('snapshot').that.includes({ seq: 2 });
      const delta = decodeRatingsResponse(await ask(encodeRatingsRequest({ since: 1 })));
      expect(delta).to.have.property('delta').that.includes({ seq: 2, baseSeq: 1 });
      expect(decodeRatingsResponse(await ask(encodeRatingsRequest({ since: 2 })))).to.deep.equal({ unchanged: 2 });
      // A base the server does not know gets the snapshot.
      expect(decodeRatingsResponse(await ask(encodeRatingsRequest({ since: 0 })))).to.have.property('snapshot');
      const refused = await ask(dagCbor.encode({ since: 'yesterday' })).then(
        () => 'answered',
        (error: Error) => error.name,
      );
      expect(refused).to.not.equal('answered');
      expect(decodeRatingsResponse(await ask(encodeRatingsRequest({ since: 2 })))).to.deep.equal({ unchanged: 2 });
    } finally {
      await asker.stop();
    }
  });
});

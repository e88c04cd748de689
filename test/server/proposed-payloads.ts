import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { id } from 'ethers';
import type { CID } from 'multiformats/cid';
import { bytesToHex } from 'viem';
import { type ProposalCall, propose } from '../../src/chain/governance.js';
import { publishVersionCall } from '../../src/chain/lists.js';
import { createNrpHelia, type NrpHelia } from '../../src/ipfs/helia.js';
import { compareIds, entryId } from '../../src/lists/entry-id.js';
import { type EncodedPayload, encodePayload } from '../../src/lists/payload.js';
import { type ProposedPayload, ProposedPayloads } from '../../src/server/proposed-payloads.js';
import type { ProposedPayloadsView, RatingServer } from '../../src/server/server.js';
import { publicClient, type ViemDao, viemDaoFixture } from '../chain/helpers.js';
import { endVoting, networkHelpers, Vote } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { endpointOf, startTestServer } from './helpers/api-server.js';
import { cidOf } from './helpers/reports.js';

describe('a rating server keeps the payloads of versions proposed for its list', function () {
  this.timeout(120_000);
  let dao: ViemDao;
  let dir: string;
  let server: RatingServer;
  /** The proposer's IPFS node, the only one with the payloads to begin with. */
  let proposer: NrpHelia;
  const kept: ProposedPayload[] = [];
  const refused: ProposedPayload[] = [];

  before(async () => {
    dao = await viemDaoFixture();
    dir = await mkdtemp(join(tmpdir(), 'nrp-proposed-payloads-'));
    proposer = await createNrpHelia({ dataDir: join(dir, 'proposer'), listen: ['/ip4/127.0.0.1/tcp/0'] });
    server = await startTestServer(dao, join(dir, 'server'), {
      governor: dao.governor,
      // Polled by the tests, not by the loop.
      proposals: { pollIntervalMs: 3_600_000, fetchTimeoutMs: 3_000 },
      onProposals: (proposals) => {
        proposals.addEventListener('kept', ({ detail }) => kept.push(detail));
        proposals.addEventListener('refused', ({ detail }) => refused.push(detail));
      },
    });
  });

  after(async () => {
    await server?.stop();
    await proposer?.stop();
    if (dir) await removeDir(dir);
  });

  /** Encodes a payload of `texts` as version `version` into the proposer's store, for `list`. */
  async function payloadOf(texts: string[], version: number, list = dao.list): Promise<EncodedPayload> {
    const ids = (await Promise.all(texts.map(async (text) => entryId(await cidOf(text))))).sort(compareIds);
    const packed = new Uint8Array(ids.length * 32);
    ids.forEach((entry, i) => {
      packed.set(entry, i * 32);
    });
    return encodePayload(proposer.blockstore, {
      chainId: 31337,
      list,
      version,
      ids: packed,
      added: ids.length,
      removed: 0,
      parent: null,
    });
  }

  function versionCall(payload: EncodedPayload, cid: CID = payload.cid, list = dao.list): ProposalCall {
    return publishVersionCall(list, {
      parentVersion: BigInt(payload.header.version - 1),
      root: bytesToHex(payload.header.root),
      count: payload.header.count,
      added: payload.header.added,
      removed: payload.header.removed,
      payloadCid: cid,
    });
  }

  it('fetches a proposed payload from the proposer and pins it, so it outlives the proposer', async () => {
    const payload = await payloadOf(['proposed one', 'proposed two'], 1);
    const description = 'Version 1 of the list';
    const { proposalId } = await propose(dao.holders[0], {
      governor: dao.governor,
      calls: [versionCall(payload)],
      description,
    });

    // The proposer is offline at first: the payload waits, and nothing else is lost.
    let [waiting] = (await server.proposals?.poll()) ?? [];
    expect(waiting).to.include({ proposalId, status: 'waiting', attempts: 1 });
    expect(waiting.error).to.match(/^(TimeoutError|AbortError|LoadBlockFailedError)/);
    expect(await server.helia.blockstore.has(payload.cid)).to.equal(false);

    // Online (the server knows it as it would from `nrp ipfs serve`): the next poll keeps it.
    await proposer.libp2p.dial(server.helia.libp2p.getMultiaddrs());
    [waiting] = (await server.proposals?.poll()) ?? [];
    expect(waiting).to.include({ proposalId, status: 'kept', attempts: 2 });
    expect(waiting.error).to.equal(undefined);
    expect(kept.map((k) => k.cid.toString())).to.deep.equal([payload.cid.toString()]);
    for (const block of [payload.cid, ...payload.header.chunks]) {
      expect(await server.helia.pins.isPinned(block), `${block} pinned`).to.equal(true);
    }

    // The HTTP API shows it to the operator.
    const { url } = await endpointOf(join(dir, 'server'));
    const view = (await (await fetch(`${url}/proposals`)).json()) as ProposedPayloadsView;
    expect(view).to.deep.include({ governor: dao.governor });
    expect(view.proposals).to.deep.equal([
      {
        proposalId: proposalId.toString(),
        call: 0,
        cid: payload.cid.toString(),
        version: '1',
        count: 2,
        status: 'kept',
        attempts: 2,
        createdBlock: waiting.created.blockNumber.toString(),
      },
    ]);

    // The proposer goes away; the vote passes; the server's list sync finds the payload in its own store.
    await proposer.libp2p.hangUp(server.helia.libp2p.peerId);
    const governor = dao.dao.governor;
    const [targets, values, calldatas] = [[dao.list], [0n], [versionCall(payload).data]];
    for (const holder of dao.dao.holders) await governor.connect(holder).castVote(proposalId, Vote.For);
    await endVoting(governor, proposalId);
    await governor.queue(targets, values, calldatas, id(description));
    await networkHelpers.time.increaseTo(await governor.proposalEta(proposalId));
    await governor.execute(targets, values, calldatas, id(description));
    await server.list.syncOnce();
    expect(server.list.current.version).to.equal(1n);
    expect(server.list.current.count).to.equal(2);

    // Executed, the proposal is the list sync's business now.
    expect(await server.proposals?.poll()).to.deep.equal([]);
  });

  it('refuses a payload that is not the version proposed, and does not fetch it again', async () => {
    const payload = await payloadOf(['one more'], 2);
    // The call claims another root than the payload has.
    const call = versionCall({ ...payload, header: { ...payload.header, root: new Uint8Array(32).fill(7) } });
    const { proposalId } = await propose(dao.holders[0], {
      governor: dao.governor,
      calls: [call],
      description: 'A version whose payload does not match',
    });
    await proposer.libp2p.dial(server.helia.libp2p.getMultiaddrs());

    const [refusedNow] = (await server.proposals?.poll()) ?? [];
    expect(refusedNow).to.include({ proposalId, status: 'refused', attempts: 1 });
    expect(refusedNow.error).to.match(/^PayloadRootMismatchError/);
    expect(refused.map((r) => r.proposalId)).to.deep.equal([proposalId]);
    expect(await server.helia.pins.isPinned(payload.cid)).to.equal(false);
    const [again] = (await server.proposals?.poll()) ?? [];
    expect(again).to.include({ status: 'refused', attempts: 1 });

    // Defeated (nobody voted), it is forgotten.
    await endVoting(dao.dao.governor, proposalId);
    expect(await server.proposals?.poll()).to.deep.equal([]);
  });

  it('after a restart, finds the proposals still in the vote again and has their payloads from its own store', async () => {
    const payload = await payloadOf(['kept across a restart'], 2);
    const { proposalId } = await propose(dao.holders[0], {
      governor: dao.governor,
      calls: [versionCall(payload)],
      description: 'Version 2, kept across a restart',
    });
    await proposer.libp2p.dial(server.helia.libp2p.getMultiaddrs());
    const [before] = (await server.proposals?.poll()) ?? [];
    expect(before).to.include({ proposalId, status: 'kept' });

    await server.stop();
    await proposer.libp2p.hangUp(server.helia.libp2p.peerId);
    server = await startTestServer(dao, join(dir, 'server'), {
      governor: dao.governor,
      proposals: { pollIntervalMs: 3_600_000, fetchTimeoutMs: 3_000 },
    });
    // No peer to fetch from: the payload comes from the pinned blocks.
    expect(server.helia.libp2p.getConnections()).to.deep.equal([]);
    const [after] = (await server.proposals?.poll()) ?? [];
    expect(after).to.include({ proposalId, status: 'kept' });
    await endVoting(dao.dao.governor, proposalId);
  });

  it('ignores proposals for other lists and calls that publish nothing, and keeps serving', async () => {
    const other = (await viemDaoFixture()).list;
    const elsewhere = await payloadOf(['elsewhere'], 1, other);
    await propose(dao.holders[0], {
      governor: dao.governor,
      calls: [
        versionCall(elsewhere, elsewhere.cid, other),
        // A call to the list that is not publishVersion.
        { target: dao.list, data: '0x12345678', value: 0n },
      ],
      description: 'Calls this server has nothing to keep for',
    });
    expect(await server.proposals?.poll()).to.deep.equal([]);
    expect(await server.helia.blockstore.has(elsewhere.cid)).to.equal(false);
    expect(await (await fetch(`${(await endpointOf(join(dir, 'server'))).url}/proposals`)).json()).to.deep.equal({
      governor: dao.governor,
      proposals: [],
    });
  });

  it('refuses, unfetched, a proposed version with more entries than it keeps unvoted', async () => {
    const payload = await payloadOf(['big one', 'big two'], 2);
    const { proposalId } = await propose(dao.holders[0], {
      governor: dao.governor,
      calls: [versionCall(payload)],
      description: 'A version too big for a small server',
    });
    const fetched: CID[] = [];
    const small = new ProposedPayloads(
      { governor: dao.governor, list: dao.list, fromBlock: 0n, maxEntries: 1 },
      {
        client: publicClient,
        keep: (cid, options) => {
          fetched.push(cid);
          return server.keepPayload(cid, options);
        },
      },
    );
    const refusedHere: ProposedPayload[] = [];
    small.addEventListener('refused', ({ detail }) => refusedHere.push(detail));

    const [big] = await small.poll();
    expect(big).to.include({ proposalId, status: 'refused', attempts: 0 });
    expect(big.error).to.equal('the version has 2 entries, more than the 1 this server keeps unvoted');
    expect(refusedHere.map((r) => r.proposalId)).to.deep.equal([proposalId]);
    await small.poll();
    expect(fetched).to.deep.equal([]);
    await endVoting(dao.dao.governor, proposalId);
  });
});

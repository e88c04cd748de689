import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import { getAddress } from 'viem';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../src/ipfs/keys.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { decodePayload, encodePayload } from '../../src/lists/payload.js';
import { createRatingServer, type RatingServer } from '../../src/server/server.js';
import type { TipView } from '../../src/server/tips.js';
import { publicClient } from '../chain/helpers.js';
import { nrp, startCliTestChain } from '../helpers/cli.js';
import { type Dao, ProposalState } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import type { serveChainOverHttp } from '../helpers/rpc-server.js';
import { freePort } from '../node/helpers/peers.js';
import { endpointOf } from '../server/helpers/api-server.js';
import { cidOf } from '../server/helpers/reports.js';

describe('nrp tip / nrp server tips / nrp server propose', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let base: string[];
  let server: RatingServer;
  let serverDir: string;
  let serverId: string;
  let nodeConfig: string;
  const proposer = () => ({ NRP_DATA_DIR: join(dir, 'proposer') });

  before(async () => {
    ({ dao, rpc, dir, base } = await startCliTestChain('nrp-tips-cli-'));

    // A registered server, listening where the registry says.
    serverDir = join(dir, 'server');
    const port = await freePort();
    const policy = join(dir, 'policy.md');
    await writeFile(policy, '# Policy\n\nWe list malware.\n');
    const registered = await nrp([
      ...base,
      '--json',
      'server',
      'register',
      '--server-dir',
      serverDir,
      '--multiaddr',
      `/ip4/127.0.0.1/tcp/${port}`,
      '--policy',
      policy,
    ]);
    expect(registered.code, registered.stderr).to.equal(0);
    serverId = registered.json<{ serverId: string }>().serverId;
    server = await createRatingServer(
      {
        dataDir: serverDir,
        listen: [`/ip4/127.0.0.1/tcp/${port}`],
        list: getAddress(await dao.list.getAddress()),
        chainId: 31337,
        fromBlock: 0n,
        inferenceIntervalMs: 3_600_000,
        sync: { pollIntervalMs: 3_600_000 },
        tips: { rateLimit: { burst: 6, perSecond: 0.001 } },
      },
      { client: publicClient },
    );
    nodeConfig = join(dir, 'node.json');
    await writeFile(nodeConfig, JSON.stringify({ dataDir: join(dir, 'node') }));
  });

  after(async () => {
    await server?.stop();
    await rpc.close();
    await removeDir(dir);
  });

  const tip = (cid: string, server: string, reason: string, config = nodeConfig) =>
    nrp([
      ...base,
      '--json',
      'tip',
      cid,
      '--category',
      'malware',
      '--reason',
      reason,
      '--server',
      server,
      '--config',
      config,
    ]);
  const operator = (...args: string[]) => nrp([...base, 'server', ...args, '--server-dir', serverDir], proposer());

  it('tips by registry id, peer id and address; the operator decides and proposes; the payload names every tip', async () => {
    const [one, two, three] = await Promise.all(['one', 'two', 'three'].map(async (t) => (await cidOf(t)).toString()));
    const byId = await tip(one, serverId, 'A ransomware dropper');
    expect(byId.code, byId.stderr).to.equal(0);
    expect(byId.stderr).to.contain('No node key yet');
    const first = byId.json<{ id: number; duplicate: boolean; server: string; sender: string }>();
    expect(first).to.deep.include({ duplicate: false, server: server.peerId });
    // Signed with the node's own key, the one `nrp node start` uses.
    const nodeKey = await loadOrCreatePrivateKey(join(dir, 'node', 'ipfs', 'peer.key'));
    const node = peerIdFromPrivateKey(nodeKey).toString();
    expect(first.sender).to.equal(node);

    const byPeer = await tip(two, server.peerId, 'Probably fine');
    expect(byPeer.code, byPeer.stderr).to.equal(0);
    const [address] = server.getMultiaddrs();
    const byAddress = await tip(one, address, 'Also in a phishing kit');
    expect(byAddress.code, byAddress.stderr).to.equal(0);
    const viaForm = await fetch(`${server.httpUrl}/tips`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ cid: three, category: 'csam', reason: 'Reported by a reader' }),
    });
    expect(viaForm.status).to.equal(200);
    const [id1, id2, id3] = [first.id, byPeer.json<{ id: number }>().id, byAddress.json<{ id: number }>().id];
    const id4 = ((await viaForm.json()) as { id: number }).id;

    const pending = await operator('--json', 'tips');
    expect(pending.code, pending.stderr).to.equal(0);
    const listed = pending.json<{ tips: TipView[] }>().tips;
    expect(listed.map((t) => t.id)).to.deep.equal([id4, id3, id2, id1]);
    expect(listed[3]).to.deep.include({ cid: one, category: 'malware', reason: 'A ransomware dropper', sender: node });
    const shown = await operator('tips');
    expect(shown.stdout).to.contain(`Tip ${id1} (pending): malware ${one}`);
    expect(shown.stdout).to.contain('“Reported by a reader”');

    for (const id of [id1, id3, id4]) {
      const accepted = await operator('--json', 'tips', 'accept', String(id));
      expect(accepted.code, accepted.stderr).to.equal(0);
      expect(accepted.json()).to.deep.include({ id, status: 'accepted' });
    }
    const rejected = await operator('tips', 'reject', String(id2));
    expect(rejected.code, rejected.stderr).to.equal(0);
    expect(rejected.stdout).to.contain(`Tip ${id2} (rejected)`);
    const twice = await operator('tips', 'accept', String(id2));
    expect(twice.code).to.equal(1);
    expect(twice.stderr).to.contain(`Tip ${id2} was already rejected`);
    const unknown = await operator('tips', 'reject', '999');
    expect(unknown.stderr).to.contain('No tip has id 999');
    expect((await operator('--json', 'tips')).json<{ tips: TipView[] }>().tips).to.deep.equal([]);

    const proposed = await operator('--json', 'propose');
    expect(proposed.code, proposed.stderr).to.equal(0);
    const result = proposed.json<{ proposalId: string; payloadCid: string; added: number; tips: number[] }>();
    expect(result).to.deep.include({ added: 2, tips: [id1, id3, id4], tipsMarked: true, payloadKept: true });
    // The server keeps the payload, so voters and, once it passes, nodes can fetch it from there.
    expect(await server.helia.pins.isPinned(CID.parse(result.payloadCid))).to.equal(true);
    expect(Number(await dao.governor.state(result.proposalId))).to.equal(ProposalState.Pending);

    // The payload, pinned in the proposer's data dir, carries each tip with its metadata.
    const helia = await createNrpHelia({ dataDir: join(dir, 'proposer', 'ipfs') });
    try {
      const payload = await decodePayload(helia.blockstore, CID.parse(result.payloadCid), { metadata: true });
      expect(payload.metadata?.get(entryIdToHex(entryId(one)))).to.deep.include({
        category: 'malware',
        reason: 'A ransomware dropper\nAlso in a phishing kit',
        tips: [`nrp-tip:${server.peerId}/${id1}/${node}`, `nrp-tip:${server.peerId}/${id3}/${node}`],
        form: 'cid',
      });
      expect(payload.metadata?.get(entryIdToHex(entryId(three)))).to.deep.include({
        category: 'csam',
        reason: 'Reported by a reader',
        tips: [`nrp-tip:${server.peerId}/${id4}/http`],
      });
      expect(payload.metadata?.has(entryIdToHex(entryId(two)))).to.equal(false);
    } finally {
      await helia.stop();
    }
    // Voters see the tips when they inspect the proposal.
    const inspected = await nrp([...base, 'proposal', 'inspect', result.proposalId], proposer());
    expect(inspected.code, inspected.stderr).to.equal(0);
    expect(inspected.stdout).to.contain(`tips: nrp-tip:${server.peerId}/${id1}/${node}`);
    expect(inspected.stdout).to.contain(`Tip-offs accepted by rating server ${server.peerId}`);

    // The tips are marked, so they are not proposed twice.
    const accepted = (await operator('--json', 'tips', '--status', 'accepted')).json<{ tips: TipView[] }>().tips;
    expect(accepted.map((t) => t.proposal)).to.deep.equal([result.proposalId, result.proposalId, result.proposalId]);
    const again = await operator('propose');
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('No accepted tip waits for a proposal');
    const rejectedTip = await operator('propose', '--tips', String(id2));
    expect(rejectedTip.stderr).to.contain(`Tip ${id2} is not accepted, or in a proposal already`);
  });

  it('POST /payloads keeps only payloads of its own list, and only for the operator', async () => {
    const endpoint = await endpointOf(serverDir);
    const post = (body: string, token = endpoint.token) =>
      fetch(`${endpoint.url}/payloads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error;
    const elsewhere = await encodePayload(server.helia.blockstore, {
      chainId: 31337,
      list: '0x0000000000000000000000000000000000000001',
      version: 1,
      ids: entryId(await cidOf('elsewhere')),
      added: 1,
      removed: 0,
      parent: null,
    });

    expect((await post(JSON.stringify({ cid: elsewhere.cid.toString() }), 'wrong')).status).to.equal(401);
    const malformed = await post('{"cid":');
    expect(malformed.status).to.equal(400);
    expect(await errorOf(malformed)).to.contain('not valid JSON');
    const notCid = await post(JSON.stringify({ cid: 'nope' }));
    expect(notCid.status).to.equal(400);
    expect(await errorOf(notCid)).to.contain('"nope" is not a CID');
    const otherList = await post(JSON.stringify({ cid: elsewhere.cid.toString() }));
    expect(otherList.status).to.equal(400);
    expect(await errorOf(otherList)).to.contain('PayloadHeaderMismatchError');
    expect(await server.helia.pins.isPinned(elsewhere.cid)).to.equal(false);
    // Still serving.
    expect((await fetch(`${endpoint.url}/status`)).status).to.equal(200);
  });

  it('refuses bad input with clear errors, and reports a refusing or absent server', async () => {
    const cid = (await cidOf('bad input')).toString();
    const [address] = server.getMultiaddrs();
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
    for (const [args, error] of [
      [['not-a-cid', '--server', address], 'Not a CID: not-a-cid'],
      [[cid, '--server', '99'], 'No rating server 99 in the registry'],
      [[cid, '--server', 'nonsense'], 'must be a registry server id, a peer id or a multiaddr'],
      [[cid, '--server', stranger], 'is not in the registry'],
      [[cid, '--server', `/ip4/127.0.0.1/tcp/${await freePort()}`], 'The tip did not reach'],
      [[cid, '--server', address, '--reason', ' '], '--reason must not be empty'],
      [[cid, '--server', address, '--category', 'c'.repeat(65)], 'over 64'],
    ] as const) {
      const options = args.slice(1);
      const result = await nrp([
        ...base,
        'tip',
        args[0],
        '--category',
        'malware',
        '--reason',
        'why',
        ...options,
        '--config',
        nodeConfig,
      ]);
      expect(result.code, args.join(' ')).to.equal(1);
      expect(result.stderr, args.join(' ')).to.contain(error);
    }

    // A flood from one node: the server refuses past its limit, with the reason code.
    const flooder = join(dir, 'flooder.json');
    await writeFile(flooder, JSON.stringify({ dataDir: join(dir, 'flooder') }));
    const codes: number[] = [];
    let refused = '';
    for (let i = 0; i < 7; i++) {
      const result = await tip((await cidOf(`flood ${i}`)).toString(), address, 'spam', flooder);
      codes.push(result.code);
      if (result.code !== 0) refused = result.stderr;
    }
    expect(codes).to.deep.equal([0, 0, 0, 0, 0, 0, 1]);
    expect(refused).to.contain('The server refused the tip: rate-limited');

    expect((await operator('tips', '--status', 'maybe')).stderr).to.contain('--status must be one of');
    expect((await operator('tips', '--limit', '0')).stderr).to.contain('--limit must be');
    expect((await operator('tips', 'accept', 'x')).stderr).to.contain('Not a tip id: x');
    const nowhere = await nrp([...base, 'server', 'tips', '--server-dir', join(dir, 'no-server')]);
    expect(nowhere.code).to.equal(1);
    expect(nowhere.stderr).to.contain('No rating server has run on');

    await server.stop();
    const stopped = await operator('tips');
    expect(stopped.code).to.equal(1);
    expect(stopped.stderr).to.contain('does not answer');
    // Its tips are on disk: a restarted server lists them all.
    const restarted = await createRatingServer(
      {
        dataDir: serverDir,
        list: getAddress(await dao.list.getAddress()),
        chainId: 31337,
        fromBlock: 0n,
        inferenceIntervalMs: 3_600_000,
        sync: { pollIntervalMs: 3_600_000 },
      },
      { client: publicClient },
    );
    server = restarted;
    const all = (await operator('--json', 'tips', '--status', 'all')).json<{ tips: TipView[] }>().tips;
    expect(all).to.have.length(4 + 6);
  });
});

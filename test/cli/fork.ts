import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { type Address, bytesToHex, getAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { loadOrCreatePrivateKey } from '../../src/ipfs/keys.js';
import { pinRoot } from '../../src/ipfs/pins.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { decodePayload, encodePayload } from '../../src/lists/payload.js';
import { packIds } from '../../src/lists/set-ops.js';
import { firstJson, nrp, spawnNrp, startCliTestChain } from '../helpers/cli.js';
import { type Dao, ethers, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { impersonate } from '../helpers/impersonate.js';
import type { serveChainOverHttp } from '../helpers/rpc-server.js';

async function contentCid(text: string) {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

/** Transactions a fork deployment sends: token, timelock, Governor, list, two role grants, one renounce. */
const FORK_TRANSACTIONS = 7;

interface ForkResult {
  list: Address;
  token: Address;
  timelock: Address;
  governor: Address;
  count: number;
  removed: number;
  root: string;
  payloadCid: string;
  resumed: boolean;
  deployment: string;
  deploymentDir: string;
  parent: { list: Address; version: string };
  server?: { serverId: string; peerId: string; status: string; alreadyApplied: boolean; policyCid: string };
  addition?: { proposalId: string; added: number };
  next: string[];
}

describe('nrp list fork', function () {
  this.timeout(180_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let base: string[];
  let parentList: Address;
  /** The protester's data dir, which holds the parent's payload (as after `nrp list sync`). */
  let protester: NodeJS.ProcessEnv;
  let policy: string;
  /** Content the parent list holds at version 1; the first is the disputed one. */
  let cids: string[];
  const children: ChildProcess[] = [];
  /** The fork the first test deploys; later tests build on it. */
  let first: ForkResult;

  before(async () => {
    ({ dao, rpc, dir, base } = await startCliTestChain('nrp-fork-cli-'));
    parentList = getAddress(await dao.list.getAddress());
    policy = join(dir, 'policy.md');
    await writeFile(policy, '# Fork policy\n\nThe same as the parent, without the disputed entry.\n');

    // Version 1 of the parent: four items, its payload in the protester's store.
    cids = await Promise.all(['disputed', 'malware one', 'malware two', 'malware three'].map(contentCid));
    protester = { NRP_DATA_DIR: join(dir, 'protester'), NRP_DEV_ACCOUNT: '5' };
    const helia = await createNrpHelia({ dataDir: join(dir, 'protester', 'ipfs'), listen: [] });
    try {
      const ids = packIds(cids.map((cid) => entryId(cid)));
      const encoded = await encodePayload(helia.blockstore, {
        chainId: 31337,
        list: parentList,
        version: 1,
        ids,
        added: 4,
        removed: 0,
        metadata: new Map(cids.map((cid) => [entryIdToHex(entryId(cid)), { category: 'malware', form: 'cid' }])),
      });
      await pinRoot(helia, encoded.cid);
      const timelock = await impersonate(dao.timelock);
      await dao.list.connect(timelock).publishVersion(0n, encoded.header.root, 4, 4, 0, encoded.cid.bytes);
    } finally {
      await helia.stop();
    }
  });

  after(async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        // A server that hangs on the way out must not keep the suite from cleaning up.
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await rpc.close();
    await removeDir(dir);
  });

  async function removeFile(name: string, lines: string[]) {
    const path = join(dir, name);
    await writeFile(path, `# disputed\n${lines.join('\n')}\n`);
    return path;
  }

  async function nonceOf(address: string) {
    return ethers.provider.getTransactionCount(address);
  }

  const dev5 = () => ethers.getSigners().then((signers) => signers[5].address);

  it('deploys the fork through Ignition without the disputed entry, and applies for its server', async () => {
    const remove = await removeFile('remove.txt', [cids[0]]);
    const serverDir = join(dir, 'fork-server');
    const before = await nonceOf(await dev5());
    const forked = await nrp(
      [
        ...base,
        '--json',
        'list',
        'fork',
        '--parent',
        parentList,
        '--version',
        '1',
        '--remove',
        remove,
        '--register-server-from',
        serverDir,
        '--server-multiaddr',
        '/ip4/127.0.0.1/tcp/4200',
        '--policy',
        policy,
      ],
      protester,
    );
    expect(forked.code, forked.stderr).to.equal(0);
    for (const step of ['1/5', '2/5', '3/5', '4/5']) expect(forked.stderr).to.contain(step);
    expect(forked.stderr).to.contain('ListFork#IllegalDataList: done');
    const fork = forked.json<ForkResult>();
    expect(fork).to.deep.include({ count: 3, removed: 1, resumed: false });
    expect(fork.parent).to.deep.include({ list: parentList, version: '1' });
    // One transaction per future, and one for the server's application: nothing twice.
    expect(await nonceOf(await dev5())).to.equal(before + FORK_TRANSACTIONS + 1);

    // On chain: the parent, the version, the root, the count and the payload, under the fork's own timelock.
    const list = await ethers.getContractAt('IllegalDataList', fork.list);
    expect(await list.parent()).to.deep.equal([parentList, 1n]);
    expect(await list.currentVersion()).to.equal(1n);
    const version1 = await list.getVersion(1n);
    expect(version1.root).to.equal(fork.root);
    expect(version1.count).to.equal(3n);
    expect(version1.removed).to.equal(1n);
    expect(version1.added).to.equal(0n);
    expect(CID.decode(Buffer.from(version1.payloadCid.slice(2), 'hex')).toString()).to.equal(fork.payloadCid);
    expect(await list.executor()).to.equal(fork.timelock);
    expect(fork.timelock).to.not.equal(await dao.timelock.getAddress());
    expect(await list.policyCid()).to.equal(await dao.list.policyCid());
    const token = await ethers.getContractAt('RatingToken', fork.token);
    expect(await token.balanceOf(await dev5())).to.equal(10n ** 24n);
    const timelock = await ethers.getContractAt('TimelockController', fork.timelock);
    expect(await timelock.hasRole(await timelock.PROPOSER_ROLE(), fork.governor)).to.equal(true);

    // The payload: the parent's entries minus the disputed one, linked to the parent's payload.
    const helia = await createNrpHelia({ dataDir: join(dir, 'protester', 'ipfs'), listen: [] });
    try {
      const payload = await decodePayload(helia.blockstore, CID.parse(fork.payloadCid), { metadata: true });
      const parentCid = CID.decode(Buffer.from((await dao.list.getVersion(1n)).payloadCid.slice(2), 'hex'));
      expect(payload.header).to.deep.include({ list: fork.list.toLowerCase(), version: 1, count: 3, removed: 1 });
      expect(payload.header.parent?.toString()).to.equal(parentCid.toString());
      const ids = new Set(Array.from({ length: 3 }, (_, i) => bytesToHex(payload.ids.subarray(i * 32, i * 32 + 32))));
      expect(ids.has(entryIdToHex(entryId(cids[0])))).to.equal(false);
      for (const cid of cids.slice(1)) expect(ids.has(entryIdToHex(entryId(cid)))).to.equal(true);
      expect(payload.metadata?.get(entryIdToHex(entryId(cids[1])))).to.deep.include({ category: 'malware' });
    } finally {
      await helia.stop();
    }

    // The server's application names the fork, and waits for a vote.
    const peerId = peerIdFromPrivateKey(await loadOrCreatePrivateKey(join(serverDir, 'ipfs', 'peer.key')));
    expect(fork.server).to.deep.include({ peerId: peerId.toString(), status: 'applied', alreadyApplied: false });
    const registered = await dao.registry.getServer(BigInt(fork.server?.serverId ?? 0));
    expect(registered.list).to.equal(fork.list);
    expect(registered.status).to.equal(1n);
    expect(fork.next.join('\n')).to.contain(`nrp server vote-on ${fork.server?.serverId} activate`);
    expect(existsSync(fork.deployment)).to.equal(true);
    first = fork;
  });

  it('shows, checks and syncs the fork: the disputed item is gone from it and stays in the parent', async () => {
    const fork = first.list;

    const shown = await nrp([...base, '--json', 'list', 'show', '--list', fork, '--entries'], protester);
    expect(shown.code, shown.stderr).to.equal(0);
    const show = shown.json<{ parent: { list: string; version: string }; entries: { id: string }[] }>();
    expect(show.parent).to.deep.equal({ list: parentList, version: '1' });
    expect(show.entries.map((e) => e.id)).to.not.include(entryIdToHex(entryId(cids[0])));
    expect(show.entries).to.have.length(3);
    const human = await nrp([...base, 'list', 'show', '--list', fork], protester);
    expect(human.stdout).to.contain(`fork of:   ${parentList} at version 1`);

    const inFork = await nrp([...base, '--json', 'list', 'check', cids[0], '--list', fork], protester);
    expect(inFork.code, inFork.stderr).to.equal(0);
    expect(inFork.json()).to.deep.include({ listed: false, version: '1' });
    const inParent = await nrp([...base, '--json', 'list', 'check', cids[0]], protester);
    expect(inParent.json()).to.deep.include({ listed: true, provedOnChain: true });
    const kept = await nrp([...base, '--json', 'list', 'check', cids[1], '--list', fork], protester);
    expect(kept.json()).to.deep.include({ listed: true, provedOnChain: true });

    // Sync checks the payload's header against the fork's address: the address was right before deployment.
    const synced = await nrp([...base, '--json', 'list', 'sync', '--list', fork], protester);
    expect(synced.code, synced.stderr).to.equal(0);
    expect(synced.json()).to.deep.include({ version: '1', count: 3, errors: [] });

    // The fork's record points every command at the fork's own governance.
    const viaRecord = await nrp(
      ['--rpc', rpc.url, '--deployment', first.deployment, '--json', 'list', 'show'],
      protester,
    );
    expect(viaRecord.json<{ list: string }>().list).to.equal(fork);
  });

  it('resumes on a rerun instead of deploying twice', async () => {
    const remove = await removeFile('remove.txt', [cids[0]]);
    const before = await nonceOf(await dev5());
    const args = [
      ...base,
      '--json',
      'list',
      'fork',
      '--parent',
      parentList,
      '--version',
      '1',
      '--remove',
      remove,
      '--register-server-from',
      join(dir, 'fork-server'),
      '--server-multiaddr',
      '/ip4/127.0.0.1/tcp/4200',
      '--policy',
      policy,
    ];
    const again = await nrp(args, protester);
    expect(again.code, again.stderr).to.equal(0);
    const fork = again.json<ForkResult>();
    expect(fork.resumed).to.equal(true);
    expect(fork.list).to.equal(first.list);
    expect(fork.server).to.deep.include({ alreadyApplied: true, status: 'applied' });
    expect(await nonceOf(await dev5())).to.equal(before);

    // For people: what was made, and what to do next.
    const human = await nrp(
      args.filter((arg) => arg !== '--json'),
      protester,
    );
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.contain(`Fork ${first.list} of list ${parentList} at version 1`);
    expect(human.stdout).to.contain('version 1: 3 entries, −1 disputed');
    expect(human.stdout).to.contain(`rating server ${fork.server?.serverId} (${fork.server?.peerId}): applied`);
    expect(human.stdout).to.contain(`nrp server vote-on ${fork.server?.serverId} activate`);
    expect(human.stderr).to.contain(`Resuming the deployment of the fork list ${first.list}`);
  });

  it('fetches the parent’s payload from a peer, and forks from a data dir that only synced it', async () => {
    const remove = await removeFile('remove.txt', [cids[0]]);
    const serve = spawnNrp([...base, '--json', 'ipfs', 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], protester);
    children.push(serve);
    const { addresses } = await firstJson<{ addresses: string[] }>(serve);
    const fork = ['--json', 'list', 'fork', '--parent', parentList, '--remove', remove];

    // With --peer, from an empty data dir: the payload and its metadata come from the protester's node.
    const fromPeer = { NRP_DATA_DIR: join(dir, 'from-peer'), NRP_DEV_ACCOUNT: '9', NRP_PEERS: addresses[0] };
    const viaPeer = await nrp([...base, ...fork], fromPeer);
    expect(viaPeer.code, viaPeer.stderr).to.equal(0);
    expect(viaPeer.stderr).to.not.contain('metadata is not available');
    const withMetadata = await nrp(
      [...base, '--json', 'list', 'show', '--list', viaPeer.json<ForkResult>().list, '--entries'],
      fromPeer,
    );
    expect(withMetadata.json<{ entries: { category?: string }[] }>().entries.map((e) => e.category)).to.deep.equal([
      'malware',
      'malware',
      'malware',
    ]);

    // `list sync` keeps the ids, not the metadata: without a peer, the fork goes without it, and says so.
    const synced = { NRP_DATA_DIR: join(dir, 'synced'), NRP_DEV_ACCOUNT: '10' };
    expect((await nrp([...base, 'list', 'sync'], { ...synced, NRP_PEERS: addresses[0] })).code).to.equal(0);
    const exited = new Promise((resolve) => serve.once('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
    const offline = await nrp([...base, ...fork], synced);
    expect(offline.code, offline.stderr).to.equal(0);
    expect(offline.stderr).to.contain("the parent's metadata is not available");
    const result = offline.json<ForkResult>();
    expect(result).to.deep.include({ count: 3, removed: 1 });
    const shown = await nrp([...base, '--json', 'list', 'show', '--list', result.list, '--entries'], synced);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.json<{ entries: { category?: string }[] }>().entries.map((e) => e.category)).to.deep.equal([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('runs the protest path: the server is voted in and started on the fork', async () => {
    const fork = first.list;
    const serverDir = join(dir, 'fork-server');
    const peerId = peerIdFromPrivateKey(await loadOrCreatePrivateKey(join(serverDir, 'ipfs', 'peer.key')));
    const serverId = await dao.registry.serverIdOf(peerId.toMultihash().bytes);

    // Token holders of the registry's DAO vote the fork's server in.
    const proposed = await nrp([...base, '--json', 'server', 'vote-on', String(serverId), 'activate']);
    expect(proposed.code, proposed.stderr).to.equal(0);
    const { proposalId } = proposed.json<{ proposalId: string }>();
    await networkHelpers.mine();
    for (const account of ['0', '1']) {
      const vote = await nrp([...base, 'vote', proposalId, 'for'], { NRP_DEV_ACCOUNT: account });
      expect(vote.code, vote.stderr).to.equal(0);
    }
    await networkHelpers.time.increase(301);
    expect((await nrp([...base, 'queue', proposalId])).code).to.equal(0);
    await networkHelpers.time.increase(61);
    expect((await nrp([...base, 'execute', proposalId])).code).to.equal(0);
    const status = await nrp([...base, 'server', 'status', '--server-dir', serverDir]);
    expect(status.stdout).to.contain(`Rating server ${serverId}: active`);
    expect(status.stdout).to.contain(`list:     ${fork}`);

    // The operator starts it on the fork's list; its store already holds the fork's payload, so it syncs alone.
    const config = join(dir, 'fork-server.json');
    await writeFile(
      config,
      JSON.stringify({
        dataDir: serverDir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        httpPort: 0,
        chain: { rpc: rpc.url, deployment: first.deployment },
      }),
    );
    const child = spawnNrp(['--json', 'server', 'start', '--config', config]);
    children.push(child);
    let serverErrors = '';
    child.stderr?.on('data', (d) => {
      serverErrors += d;
    });
    const info = await Promise.race([
      firstJson<{ peerId: string; http: string; list: string }>(child),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`the server did not start: ${serverErrors}`)), 60_000),
      ),
    ]);
    expect(info.peerId).to.equal(peerId.toString());
    expect(info.list).to.equal(fork);
    let list: { address: string; version: string; count: number } | undefined;
    for (let i = 0; i < 100 && list?.version !== '1'; i++) {
      list = ((await (await fetch(`${info.http}/status`)).json()) as { list: typeof list }).list;
      if (list?.version !== '1') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(list).to.deep.include({ address: fork, version: '1', count: 3 });
  });

  it('resumes after the RPC goes down in the middle of the deployment', async () => {
    const signer = (await ethers.getSigners())[6].address;
    const env = { NRP_DATA_DIR: join(dir, 'protester'), NRP_DEV_ACCOUNT: '6' };
    const remove = await removeFile('remove-two.txt', [cids[1]]);
    const flaky = await flakyRpc(rpc.url, 3);
    const before = await nonceOf(signer);
    const args = ['--json', 'list', 'fork', '--parent', parentList, '--remove', remove];
    const broken = await nrp(['--rpc', flaky.url, '--deployment', base[3], ...args], env);
    await flaky.close();
    expect(broken.code).to.equal(1);
    expect(broken.stderr).to.match(
      /Cannot reach the chain at http:\/\/127\.0\.0\.1:\d+: other side closed\. Run the same command again to resume\./,
    );
    expect(await nonceOf(signer)).to.equal(before + 3);

    const resumed = await nrp([...base, ...args], env);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.match(
      /ListFork#RatingGovernor: its transaction 0x[0-9a-f]{64} reached the chain after all/,
    );
    const fork = resumed.json<ForkResult>();
    expect(fork.resumed).to.equal(true);
    expect(await nonceOf(signer)).to.equal(before + FORK_TRANSACTIONS);
    const synced = await nrp([...base, '--json', 'list', 'sync', '--list', fork.list], env);
    expect(synced.json()).to.deep.include({ version: '1', count: 3 });
  });

  it('reports a deployment that fails, and finishes it on a rerun once the cause is fixed', async () => {
    const key = bytesToHex(randomBytes(32));
    const account = privateKeyToAccount(key);
    const env = { NRP_DATA_DIR: join(dir, 'protester'), NRP_PRIVATE_KEY: key };
    const remove = await removeFile('remove-three.txt', [cids[2]]);
    const args = [...base, '--json', 'list', 'fork', '--parent', parentList, '--remove', remove];
    const failed = await nrp(args, env);
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.match(/fork deployment stopped|insufficient funds|funds/i);
    expect(failed.stderr).to.contain('Run the same command again');
    expect(failed.stderr).to.not.contain('    at ');

    await networkHelpers.setBalance(account.address, 10n ** 20n);
    const fixed = await nrp(args, env);
    expect(fixed.code, fixed.stderr).to.equal(0);
    expect(fixed.json<ForkResult>()).to.deep.include({ count: 3, removed: 1 });
    expect(await nonceOf(account.address)).to.equal(FORK_TRANSACTIONS);
  });

  it('proposes added entries to the fork’s own Governor, whose holders vote them in', async () => {
    const env = { NRP_DATA_DIR: join(dir, 'protester'), NRP_DEV_ACCOUNT: '7' };
    const holders = (await ethers.getSigners()).slice(7, 9).map((s) => s.address);
    const remove = await removeFile('remove-four.txt', [cids[3]]);
    const add = await removeFile('add.txt', [await contentCid('really bad')]);
    const parameters = join(dir, 'fork-parameters.json');
    await writeFile(parameters, JSON.stringify({ ListFork: { tokenName: 'Protest Token', tokenSymbol: 'PRT' } }));
    const forked = await nrp(
      [
        ...base,
        '--json',
        'list',
        'fork',
        '--parent',
        parentList,
        '--remove',
        remove,
        '--add',
        add,
        '--category',
        'malware',
        '--holder',
        `${holders[0]}=600`,
        `${holders[1]}=400`,
        '--parameters',
        parameters,
      ],
      env,
    );
    expect(forked.code, forked.stderr).to.equal(0);
    const fork = forked.json<ForkResult>();
    expect(fork.addition?.added).to.equal(1);
    const token = await ethers.getContractAt('RatingToken', fork.token);
    expect(await token.balanceOf(holders[1])).to.equal(400n * 10n ** 18n);
    expect(await token.symbol()).to.equal('PRT');

    const onFork = ['--rpc', rpc.url, '--deployment', fork.deployment];
    const proposalId = String(fork.addition?.proposalId);
    await networkHelpers.mine();
    for (const account of ['7', '8']) {
      const vote = await nrp([...onFork, 'vote', proposalId, 'for'], { ...env, NRP_DEV_ACCOUNT: account });
      expect(vote.code, vote.stderr).to.equal(0);
    }
    await networkHelpers.time.increase(301);
    expect((await nrp([...onFork, 'queue', proposalId], env)).code).to.equal(0);
    await networkHelpers.time.increase(61);
    const executed = await nrp([...onFork, 'execute', proposalId], env);
    expect(executed.code, executed.stderr).to.equal(0);
    const checked = await nrp([...onFork, '--json', 'list', 'check', await contentCid('really bad')], env);
    expect(checked.json()).to.deep.include({ listed: true, version: '2', provedOnChain: true });
  });

  it('refuses bad input with clear errors, before deploying anything', async () => {
    const remove = await removeFile('remove.txt', [cids[0]]);
    const fork = (...extra: string[]) => nrp([...base, 'list', 'fork', ...extra], protester);
    const signer = await dev5();
    const before = await nonceOf(signer);

    const noContract = await fork('--parent', '0x000000000000000000000000000000000000dEaD', '--remove', remove);
    expect(noContract.code).to.equal(1);
    expect(noContract.stderr).to.contain('No contract at 0x000000000000000000000000000000000000dEaD');
    const notAList = await fork('--parent', await dao.token.getAddress(), '--remove', remove);
    expect(notAList.stderr).to.contain('is not an illegal-data list');
    expect((await fork('--parent', 'list', '--remove', remove)).stderr).to.contain('--parent is not an address');

    const noVersion = await fork('--parent', parentList, '--version', '5', '--remove', remove);
    expect(noVersion.stderr).to.contain(`List ${parentList} has no version 5; its current version is 1.`);
    expect((await fork('--parent', parentList, '--version', 'one', '--remove', remove)).stderr).to.contain(
      '--version must be a whole number',
    );

    const stranger = await removeFile('stranger.txt', [cids[0], await contentCid('never listed')]);
    const notInParent = await fork('--parent', parentList, '--remove', stranger);
    expect(notInParent.code).to.equal(1);
    expect(notInParent.stderr).to.match(
      /stranger\.txt: 1 entry is not in the parent version: 0x[0-9a-f]{64} \(line 3\)/,
    );

    const unreadable = await fork('--parent', parentList, '--remove', join(dir, 'nope.txt'));
    expect(unreadable.stderr).to.match(/Cannot read .*nope\.txt: ENOENT/);
    const empty = await removeFile('empty.txt', []);
    expect((await fork('--parent', parentList, '--remove', empty)).stderr).to.contain('names no entries to remove');

    const elsewhere = await nrp([...base, 'list', 'fork', '--parent', parentList, '--remove', remove], {
      NRP_DATA_DIR: join(dir, 'empty-data-dir'),
      NRP_DEV_ACCOUNT: '5',
    });
    expect(elsewhere.code).to.equal(1);
    expect(elsewhere.stderr).to.match(/is not in .*empty-data-dir and no IPFS peer is connected/);

    const down = await nrp(
      [
        '--rpc',
        `http://127.0.0.1:${await closedPort()}`,
        '--deployment',
        base[3],
        'list',
        'fork',
        '--parent',
        parentList,
        '--remove',
        remove,
      ],
      protester,
    );
    expect(down.code).to.equal(1);
    expect(down.stderr).to.match(/Cannot reach the chain at http:\/\/127\.0\.0\.1:\d+\./);

    // A server key already serving the parent cannot also serve the fork.
    const parentServer = join(dir, 'parent-server');
    const registered = await nrp(
      [
        ...base,
        'server',
        'register',
        '--server-dir',
        parentServer,
        '--multiaddr',
        '/ip4/127.0.0.1/tcp/4300',
        '--policy',
        policy,
      ],
      protester,
    );
    expect(registered.code, registered.stderr).to.equal(0);
    const afterRegister = await nonceOf(signer);
    const taken = await fork(
      '--parent',
      parentList,
      '--remove',
      remove,
      '--register-server-from',
      parentServer,
      '--server-multiaddr',
      '/ip4/127.0.0.1/tcp/4300',
      '--policy',
      policy,
    );
    expect(taken.stderr).to.match(/is already rating server \d+ \(applied\) for list/);
    const missingAddress = await fork(
      '--parent',
      parentList,
      '--remove',
      remove,
      '--server-peer-id',
      await peerIdOf(parentServer),
    );
    expect(missingAddress.stderr).to.contain('needs --server-multiaddr');
    const badPeer = await fork(
      '--parent',
      parentList,
      '--remove',
      remove,
      '--server-peer-id',
      'nobody',
      '--server-multiaddr',
      '/ip4/127.0.0.1/tcp/1',
      '--policy',
      policy,
    );
    expect(badPeer.stderr).to.contain('--server-peer-id is not a peer id: nobody');
    const badHolder = await fork('--parent', parentList, '--remove', remove, '--holder', 'me=5');
    expect(badHolder.stderr).to.contain('--holder must be <address>=<whole tokens>');
    const params = join(dir, 'params.json');
    await writeFile(params, JSON.stringify({ ListFork: { root: '0x00', votingPeriod: 600 } }));
    expect((await fork('--parent', parentList, '--remove', remove, '--parameters', params)).stderr).to.contain(
      'root cannot be set here',
    );
    expect(await nonceOf(signer)).to.equal(afterRegister);
    expect(afterRegister).to.equal(before + 1);
  });
});

async function peerIdOf(serverDir: string): Promise<string> {
  return peerIdFromPrivateKey(await loadOrCreatePrivateKey(join(serverDir, 'ipfs', 'peer.key'))).toString();
}

/**
 * A JSON-RPC proxy to `target` that goes down in the middle of the `sends`-th raw transaction: it passes the
 * transaction on to the chain, then drops the connection without an answer, and every connection after it.
 * The sender cannot know whether that transaction arrived (it did).
 */
async function flakyRpc(target: string, sends: number) {
  let sent = 0;
  let down = false;
  const forward = (body: string) =>
    fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', async () => {
      if (down) {
        req.socket.destroy();
        return;
      }
      if ((JSON.parse(body) as { method: string }).method === 'eth_sendRawTransaction' && ++sent === sends) {
        await forward(body);
        down = true;
        req.socket.destroy();
        return;
      }
      const answer = await forward(body);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(await answer.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

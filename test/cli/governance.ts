import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { sha256 } from 'multiformats/hashes/sha2';
import { createNrpHelia } from '../../src/ipfs/helia.js';
import { pinRoot } from '../../src/ipfs/pins.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import { encodePayload } from '../../src/lists/payload.js';
import { firstJson, nrp, runNrpProcess, spawnNrp, startCliTestChain } from '../helpers/cli.js';
import { type Dao, ethers, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import type { serveChainOverHttp } from '../helpers/rpc-server.js';

async function contentCid(text: string) {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text))).toString();
}

describe('nrp governance path', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let base: string[];
  /** The proposer's `nrp ipfs serve`, which has every payload proposed so far. */
  let proposerPeer: string;
  const children: ChildProcess[] = [];

  before(async () => {
    ({ dao, rpc, dir, base } = await startCliTestChain('nrp-cli-'));
  });

  after(async () => {
    await Promise.all(
      children.map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return child.exitCode === null ? exited : undefined;
      }),
    );
    await rpc.close();
    await removeDir(dir);
  });

  /** Votes for with holders 0 and 1, then queues and executes, moving the clock as needed. */
  async function pass(proposalId: string, env: NodeJS.ProcessEnv) {
    await networkHelpers.mine();
    for (const account of ['0', '1']) {
      const vote = await nrp([...base, 'vote', proposalId, 'for', '--reason', 'policy §2'], {
        ...env,
        NRP_DEV_ACCOUNT: account,
      });
      expect(vote.code, vote.stderr).to.equal(0);
    }
    await networkHelpers.time.increase(301);
    const queued = await nrp([...base, 'queue', proposalId], env);
    expect(queued.code, queued.stderr).to.equal(0);
    expect(queued.stdout).to.contain('Queued');
    await networkHelpers.time.increase(61);
    const executed = await nrp([...base, 'execute', proposalId], env);
    expect(executed.code, executed.stderr).to.equal(0);
  }

  it('proposes, inspects, votes, queues and executes; a second process then syncs the new entries', async () => {
    const proposer = { NRP_DATA_DIR: join(dir, 'proposer') };
    const cids = [await contentCid('bad one'), await contentCid('bad two')];
    const addFile = join(dir, 'add.txt');
    await writeFile(addFile, `# two items\n${cids.join('\n')}\n`);

    const proposed = await nrp(
      [
        ...base,
        '--json',
        'list',
        'propose',
        '--add',
        addFile,
        '--category',
        'malware',
        '--reason',
        'Found in the wild',
      ],
      proposer,
    );
    expect(proposed.code, proposed.stderr).to.equal(0);
    const { proposalId, added, removed, count } = proposed.json<Record<string, string | number>>();
    expect([added, removed, count]).to.deep.equal([2, 0, 2]);

    // Run again (as after a crash before its output was seen): the same proposal, found rather than sent twice.
    const again = await nrp(
      [...base, 'list', 'propose', '--add', addFile, '--category', 'malware', '--reason', 'Found in the wild'],
      proposer,
    );
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.contain(`this exact proposal exists already: ${proposalId}`);
    expect(again.stdout).to.contain(`Proposal ${proposalId}`);
    expect(again.stdout).to.contain('submitted before, by an earlier run');

    const inspected = await nrp([...base, 'proposal', 'inspect', String(proposalId)], proposer);
    expect(inspected.code, inspected.stderr).to.equal(0);
    expect(inspected.stdout).to.contain('adds 2:');
    for (const cid of cids) expect(inspected.stdout).to.contain(entryIdToHex(entryId(cid)));
    expect(inspected.stdout).to.contain('“Found in the wild”');
    expect(inspected.stdout).to.contain('OK: every call was decoded');

    await pass(String(proposalId), proposer);
    const shown = await nrp([...base, '--json', 'list', 'show'], proposer);
    expect(shown.json<{ currentVersion: string }>().currentVersion).to.equal('1');

    // Another user, in another process, with an empty data dir, fetches from the proposer's node.
    const server = spawnNrp([...base, '--json', 'ipfs', 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], proposer);
    children.push(server);
    const { addresses } = (await firstJson(server)) as { addresses: string[] };
    proposerPeer = addresses[0];
    const reader = { NRP_DATA_DIR: join(dir, 'reader'), NRP_PEERS: proposerPeer };
    const synced = await runNrpProcess([...base, '--json', 'list', 'sync'], reader);
    expect(synced.code, synced.stderr).to.equal(0);
    expect(synced.json()).to.include({ version: '1', count: 2 });

    const checked = await runNrpProcess([...base, '--json', 'list', 'check', cids[0]], reader);
    expect(checked.code, checked.stderr).to.equal(0);
    expect(checked.json()).to.include({ listed: true, version: '1', provedOnChain: true });
    const clean = await nrp([...base, '--json', 'list', 'check', await contentCid('fine')], reader);
    expect(clean.json()).to.include({ listed: false });
  });

  it('flags a tampered payload in inspect; if it passes anyway, sync refuses it and keeps the last good version', async () => {
    const attacker = { NRP_DATA_DIR: join(dir, 'attacker'), NRP_PEERS: proposerPeer };
    // A payload whose entries do not hash to the root the proposal claims.
    const helia = await createNrpHelia({ dataDir: join(dir, 'attacker', 'ipfs') });
    let payloadCid: CID;
    let claimedRoot: Uint8Array;
    try {
      const list = await dao.list.getAddress();
      const current = await dao.list.getVersion(1n);
      const ids = new Uint8Array(32 * 3).map((_, i) => (i * 7) % 256);
      ids.set(entryId(await contentCid('x')), 0);
      const sorted = new Uint8Array(
        [0, 1, 2]
          .map((i) => ids.slice(i * 32, i * 32 + 32))
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
          .flatMap((id) => [...id]),
      );
      const encoded = await encodePayload(helia.blockstore, {
        chainId: 31337,
        list,
        version: 2,
        ids: sorted,
        added: 3,
        removed: Number(current.count),
        parent: null,
      });
      await pinRoot(helia, encoded.cid);
      payloadCid = encoded.cid;
      claimedRoot = new Uint8Array(32).fill(0x42);
    } finally {
      await helia.stop();
    }
    const call = dao.list.interface.encodeFunctionData('publishVersion', [
      1n,
      claimedRoot,
      3n,
      3n,
      2n,
      payloadCid.bytes,
    ]);
    const [holder] = dao.holders;
    const description = 'A harmless-looking list update';
    await dao.governor.connect(holder).propose([await dao.list.getAddress()], [0n], [call], description);
    const proposalId = String(
      await dao.governor.getProposalId([await dao.list.getAddress()], [0n], [call], ethers.id(description)),
    );

    const inspected = await nrp([...base, 'proposal', 'inspect', proposalId], attacker);
    expect(inspected.code).to.equal(3);
    expect(inspected.stderr).to.contain('DO NOT VOTE');
    expect(inspected.stderr).to.contain('PayloadRootMismatchError');

    await pass(proposalId, attacker);
    expect(await dao.list.currentVersion()).to.equal(2n);

    // The reader gets the tampered payload from the attacker's node, and refuses it.
    const server = spawnNrp([...base, '--json', 'ipfs', 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], attacker);
    children.push(server);
    const { addresses } = (await firstJson(server)) as { addresses: string[] };
    const reader = { NRP_DATA_DIR: join(dir, 'reader'), NRP_PEERS: addresses[0] };
    const synced = await runNrpProcess([...base, '--json', 'list', 'sync'], reader);
    expect(synced.code, synced.stderr).to.equal(0);
    const result = synced.json<{ version: string; errors: { name: string }[] }>();
    expect(result.version).to.equal('1');
    expect(result.errors.map((e) => e.name)).to.deep.equal(['PayloadRootMismatchError']);
  });

  describe('bad input gets a clear error and a non-zero exit', () => {
    it('a payload no connected peer can give: fails at once and says what to do', async () => {
      const lonely = await nrp([...base, 'list', 'check', await contentCid('x')], {
        NRP_DATA_DIR: join(dir, 'lonely'),
      });
      expect(lonely.code).to.equal(1);
      expect(lonely.stderr).to.contain('no IPFS peer is connected');
      expect(lonely.stderr).to.contain('--peer');
    });

    it('a missing or empty entries file, or nothing to propose', async () => {
      const missing = await nrp([...base, 'list', 'propose', '--add', join(dir, 'nope.txt')]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/Cannot read .*nope\.txt: ENOENT/);
      const empty = join(dir, 'empty.txt');
      await writeFile(empty, '# nothing\nnot-a-cid\n');
      const none = await nrp([...base, 'list', 'propose', '--add', empty]);
      expect(none.stderr).to.contain('skipped “not-a-cid”');
      expect(none.stderr).to.contain('names no entries to add');
      const nothing = await nrp([...base, 'list', 'propose']);
      expect(nothing.stderr).to.contain('Nothing to propose');
    });

    it('a proposal id, vote or address that cannot be right', async () => {
      expect((await nrp([...base, 'vote', 'abc', 'for'])).stderr).to.contain('Not a proposal id: abc');
      expect((await nrp([...base, 'vote', '1', 'maybe'])).stderr).to.contain('not “maybe”');
      const unknown = await nrp([...base, 'queue', '12345']);
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.match(/12345/);
      expect((await nrp([...base, 'delegate', '0x1234'])).stderr).to.contain('Not an address');
    });

    it('no chain at the RPC URL, or a chain that is not the deployment’s', async () => {
      const down = await nrp(['--rpc', 'http://127.0.0.1:9', '--deployment', base[3], 'list', 'show']);
      expect(down.code).to.equal(1);
      expect(down.stderr).to.contain('Cannot reach the chain at http://127.0.0.1:9');
      const wrong = join(dir, 'wrong.json');
      await writeFile(wrong, JSON.stringify({ network: 'x', chainId: 1, fromBlock: 0, contracts: {} }));
      const mismatch = await nrp(['--rpc', rpc.url, '--deployment', wrong, 'list', 'show']);
      expect(mismatch.stderr).to.contain('Wrong chain');
    });

    it('a private key that is not a key, never echoed', async () => {
      const secret = 'not-a-key-but-secret';
      const result = await nrp([...base, 'delegate', dao.holders[1].address], { NRP_PRIVATE_KEY: secret });
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('NRP_PRIVATE_KEY variable holds no valid key');
      expect(result.stderr).to.not.contain(secret);
    });

    it('an unknown command or option, with usage', async () => {
      const result = await nrp(['frobnicate']);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.contain("unknown command 'frobnicate'");
    });
  });
});

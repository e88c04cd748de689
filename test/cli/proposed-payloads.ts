import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { expect } from 'chai';
import { registerServer, serverStatusCall } from '../../src/chain/registry.js';
import { entryId, entryIdToHex } from '../../src/lists/entry-id.js';
import type { RatingServer } from '../../src/server/server.js';
import type { ViemDao } from '../chain/helpers.js';
import { type CliTestChain, firstJson, nrp, spawnNrp, startViemCliTestChain } from '../helpers/cli.js';
import { removeDir } from '../helpers/dirs.js';
import { startTestServer } from '../server/helpers/api-server.js';
import { governance, POLICY_CID } from '../server/helpers/governance.js';
import { cidOf } from '../server/helpers/reports.js';

describe('a proposed payload outlives the proposer’s computer once a rating server keeps it', function () {
  this.timeout(180_000);
  let dao: ViemDao;
  let rpc: CliTestChain['rpc'];
  let dir: string;
  let base: string[];
  let server: RatingServer;
  let serve: ChildProcess | undefined;

  before(async () => {
    ({ dao, rpc, dir, base } = await startViemCliTestChain('nrp-cli-proposed-'));
    server = await startTestServer(dao, join(dir, 'server'), {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      governor: dao.governor,
      // Polled by the test, not by the loop.
      proposals: { pollIntervalMs: 3_600_000, fetchTimeoutMs: 3_000 },
    });
    const { serverId } = await registerServer(dao.outsider, {
      registry: dao.registry,
      peerId: peerIdFromString(server.peerId).toMultihash().bytes,
      multiaddrs: server.getMultiaddrs().map((address) => address.toString().replace(/\/p2p\/.*$/, '')),
      policyCid: POLICY_CID,
      list: dao.list,
    });
    await governance(dao, [serverStatusCall(dao.registry, serverId, 'active')], 'Activate the server');
  });

  after(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((resolve) => serve?.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
    }
    await server?.stop();
    await rpc?.close();
    if (dir) await removeDir(dir);
  });

  it('list propose, then ipfs serve until the server has it; a reader inspects it with the proposer gone', async () => {
    const proposer = { NRP_DATA_DIR: join(dir, 'proposer') };
    const cid = await cidOf('proposed while the proposer was online');
    await writeFile(join(dir, 'add.txt'), `${cid}\n`);
    const proposed = await nrp(
      [...base, '--json', 'list', 'propose', '--add', join(dir, 'add.txt'), '--category', 'spam', '--reason', 'test'],
      proposer,
    );
    expect(proposed.code, proposed.stderr).to.equal(0);
    const { proposalId } = proposed.json<{ proposalId: string }>();

    // The payload is only in the proposer's data dir: the server cannot have it yet.
    let [payload] = (await server.proposals?.poll()) ?? [];
    expect(payload).to.include({ status: 'waiting' });

    // `nrp ipfs serve` connects to the registry's active servers; the server's next poll fetches from it.
    serve = spawnNrp([...base, '--json', 'ipfs', 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], proposer);
    expect(await firstJson(serve)).to.include({ servers: 1 });
    [payload] = (await server.proposals?.poll()) ?? [];
    expect(payload).to.include({ status: 'kept' });
    expect(payload.proposalId.toString()).to.equal(proposalId);

    const exited = new Promise((resolve) => serve?.once('exit', resolve));
    serve.kill('SIGINT');
    await exited;

    // A voter on another computer, with no --peer: the CLI fetches from the registry's server.
    const inspected = await nrp([...base, 'proposal', 'inspect', proposalId], { NRP_DATA_DIR: join(dir, 'voter') });
    expect(inspected.code, inspected.stderr).to.equal(0);
    expect(inspected.stdout).to.contain('adds 1:');
    expect(inspected.stdout).to.contain(entryIdToHex(entryId(cid)));
  });
});

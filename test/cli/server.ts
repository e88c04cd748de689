import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { expect } from 'chai';
import { loadOrCreatePrivateKey } from '../../src/ipfs/keys.js';
import { firstJson, nrp, spawnNrp, startCliTestChain } from '../helpers/cli.js';
import { type Dao, networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import type { serveChainOverHttp } from '../helpers/rpc-server.js';

describe('nrp server register / vote-on / status', function () {
  this.timeout(60_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let base: string[];

  before(async () => {
    ({ dao, rpc, dir, base } = await startCliTestChain('nrp-server-cli-'));
  });

  after(async () => {
    await rpc.close();
    await removeDir(dir);
  });

  it('applies with the server’s own key and pinned policy, and is activated by vote', async () => {
    const serverDir = join(dir, 'server');
    const policy = join(dir, 'policy.md');
    await writeFile(policy, '# Our policy\n\nWe black origins of listed malware.\n');
    const registered = await nrp([
      ...base,
      '--json',
      'server',
      'register',
      '--server-dir',
      serverDir,
      '--multiaddr',
      '/ip4/127.0.0.1/tcp/4100',
      '--policy',
      policy,
    ]);
    expect(registered.code, registered.stderr).to.equal(0);
    const { serverId, peerId, policyCid } = registered.json<{ serverId: string; peerId: string; policyCid: string }>();
    expect(serverId).to.equal('1');
    expect(policyCid).to.match(/^bafk/);

    const applied = await nrp([...base, '--json', 'server', 'status', '--server-dir', serverDir]);
    expect(applied.json<{ peerId: string; server: { status: string } }>()).to.deep.include({ peerId });
    expect(applied.json<{ server: { status: string } }>().server.status).to.equal('applied');

    const proposed = await nrp([
      ...base,
      '--json',
      'server',
      'vote-on',
      serverId,
      'activate',
      '--reason',
      'Good policy',
    ]);
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

    const active = await nrp([...base, 'server', 'status', '--server-dir', serverDir]);
    expect(active.stdout).to.contain(`Rating server ${serverId}: active`);
    expect(await dao.registry.isActive(await peerIdBytes(serverDir))).to.equal(true);
  });

  it('starts a server from its configuration, serving its HTTP API until stopped', async () => {
    const config = join(dir, 'server.json');
    await writeFile(
      config,
      JSON.stringify({
        dataDir: join(dir, 'running-server'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        httpPort: 0,
        chain: { rpc: rpc.url, deployment: base[3] },
        inference: { reportingOriginGrace: false, afterWeight: 8 },
      }),
    );
    const child = spawnNrp(['--json', 'server', 'start', '--config', config]);
    try {
      const info = await firstJson<{ peerId: string; http: string; dashboard: string }>(child);
      const status = await fetch(`${info.http}/status`);
      expect(status.status).to.equal(200);
      expect(JSON.stringify(await status.json())).to.contain(info.peerId);
      // The dashboard's address carries the operator token in its fragment, and the registry is the deployment's.
      const { token } = JSON.parse(await readFile(join(dir, 'running-server', 'server.json'), 'utf8'));
      expect(info.dashboard).to.equal(`${info.http}/#token=${token}`);
      expect((await fetch(`${info.http}/`)).headers.get('content-type')).to.match(/^text\/html/);
      const registry = (await (await fetch(`${info.http}/registry`)).json()) as { registry: string };
      expect(registry.registry.toLowerCase()).to.equal((await dao.registry.getAddress()).toLowerCase());
      const local = await nrp([...base, 'server', 'status', '--server-dir', join(dir, 'running-server')]);
      expect(local.stdout).to.contain(info.dashboard);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
    }
    const bad = join(dir, 'bad-server.json');
    await writeFile(bad, JSON.stringify({ httpPort: 'eighty', chain: { list: '0x12' }, inference: { graceMs: -1 } }));
    const refused = await nrp(['server', 'start', '--config', bad]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('httpPort');
    expect(refused.stderr).to.contain('chain.list');
    expect(refused.stderr).to.contain('inference.graceMs');
  });

  it('refuses bad input with clear errors', async () => {
    const missing = await nrp([
      ...base,
      'server',
      'register',
      '--server-dir',
      join(dir, 'other'),
      '--multiaddr',
      '/ip4/127.0.0.1/tcp/4101',
      '--policy',
      join(dir, 'nope.md'),
    ]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/Cannot read .*nope\.md/);
    expect((await nrp([...base, 'server', 'vote-on', '1', 'promote'])).stderr).to.contain(
      'activate, suspend or remove',
    );
    expect((await nrp([...base, 'server', 'vote-on', 'x', 'activate'])).stderr).to.contain('Not a server id');
    const unregistered = await nrp([...base, 'server', 'status', '--server-dir', join(dir, 'fresh')]);
    expect(unregistered.stdout).to.contain('is not registered');
  });
});

async function peerIdBytes(serverDir: string): Promise<Uint8Array> {
  return peerIdFromPrivateKey(await loadOrCreatePrivateKey(join(serverDir, 'ipfs', 'peer.key'))).toMultihash().bytes;
}

import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { firstJson, nrp, spawnNrp, startCliTestChain } from '../helpers/cli.js';
import type { Dao } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import type { serveChainOverHttp } from '../helpers/rpc-server.js';

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('nrp node', function () {
  this.timeout(120_000);
  let dao: Dao;
  let rpc: Awaited<ReturnType<typeof serveChainOverHttp>>;
  let dir: string;
  let deployment: string;
  const children: ChildProcess[] = [];

  before(async () => {
    ({ dao, rpc, dir, deployment } = await startCliTestChain('nrp-node-cli-'));
  });

  after(async () => {
    await Promise.all(children.map(stopped));
    await rpc.close();
    await removeDir(dir);
  });

  async function config(name: string, extra: Record<string, unknown> = {}) {
    const path = join(dir, `${name}.json`);
    const settings = {
      dataDir: join(dir, name),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      chain: { rpc: rpc.url, deployment },
      ...extra,
    };
    await writeFile(path, JSON.stringify(settings));
    return path;
  }

  it('starts nodes that share a file added at one of them, and explains itself', async () => {
    const first = await config('first');
    const a = spawnNrp(['--json', 'node', 'start', '--config', first]);
    children.push(a);
    const infoA = await firstJson<{ peerId: string; addresses: string[] }>(a);
    expect(infoA.peerId).to.match(/^12D3Koo/);

    const second = await config('second', { bootstrap: [infoA.addresses[0]] });
    const b = spawnNrp(['--json', 'node', 'start', '--config', second]);
    children.push(b);
    await firstJson<{ peerId: string; addresses: string[] }>(b);

    const file = join(dir, 'hello.txt');
    await writeFile(file, 'hello from node A');
    const added = await nrp(['--json', 'node', 'add', file, '--config', first]);
    expect(added.code, added.stderr).to.equal(0);
    const { cid } = added.json<{ cid: string }>();

    await waitFor('the file at node B', async () => {
      const status = await nrp(['--json', 'node', 'status', '--config', second]);
      return status.code === 0 && status.json<{ content: number }>().content === 1;
    });
    const status = (await nrp(['--json', 'node', 'status', '--config', second])).json<{
      peers: { peerId: string }[];
      lists: { list: string; version: string }[];
    }>();
    expect(status.peers.map((p) => p.peerId)).to.include(infoA.peerId);
    expect(status.lists[0].list.toLowerCase()).to.equal((await dao.list.getAddress()).toLowerCase());

    const why = await nrp(['node', 'why', infoA.peerId, '--config', second]);
    expect(why.stdout).to.contain('is connected');
    expect(why.stdout).to.contain('offered no listed content');
    const notAPeer = await nrp(['node', 'why', '12D3KooW…', '--config', second]);
    expect(notAPeer.code).to.equal(1);
    expect(notAPeer.stderr).to.contain('Not a peer id: 12D3KooW…');
    expect(cid).to.match(/^baf/);

    expect(await stopped(b)).to.equal(0);
  });

  it('says clearly when no node is running, or the configuration is wrong', async () => {
    const idle = await config('idle');
    const none = await nrp(['node', 'status', '--config', idle]);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain('No node is running');

    const broken = join(dir, 'broken.json');
    await writeFile(broken, JSON.stringify({ listen: ['tcp/1'], servers: [{ priority: 'urgent' }] }));
    const bad = await nrp(['node', 'start', '--config', broken]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('listen.0');
    expect(bad.stderr).to.contain('servers.0.priority');

    const missing = await nrp(['node', 'add', join(dir, 'nope.txt'), '--config', idle]);
    expect(missing.stderr).to.match(/Cannot read .*nope\.txt/);
  });
});

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { waitForTransactionReceipt } from 'viem/actions';
import { registerServer, rotateServerKey, serverStatusCall, updateServerEndpoints } from '../../src/chain/registry.js';
import { RegistrySync } from '../../src/chain/registry-sync.js';
import { networkHelpers } from '../helpers/dao.js';
import { removeDir } from '../helpers/dirs.js';
import { impersonatedWallet, publicClient, type ViemDao, viemDaoFixture } from './helpers.js';

const POLICY_CID = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';

async function setStatus(d: ViemDao, serverId: bigint, status: 'active' | 'suspended' | 'removed') {
  const timelock = await impersonatedWallet(d.timelock);
  const { target, data } = serverStatusCall(d.registry, serverId, status);
  await waitForTransactionReceipt(publicClient, { hash: await timelock.sendTransaction({ to: target, data }) });
}

describe('RegistrySync', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nrp-registry-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  function follow(d: ViemDao, checkpointPath?: string) {
    return new RegistrySync(
      { registry: d.registry, chainId: 31337, fromBlock: 0n, checkpointPath },
      { client: publicClient },
    );
  }

  it('rebuilds every server from the events: registration, status, endpoints and key rotation', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const keyA = randomBytes(38);
    const keyB = randomBytes(38);
    await registerServer(d.outsider, {
      registry: d.registry,
      peerId: keyA,
      multiaddrs: ['/ip4/127.0.0.1/tcp/1'],
      policyCid: POLICY_CID,
      list: d.list,
    });
    await registerServer(d.outsider, {
      registry: d.registry,
      peerId: keyB,
      multiaddrs: ['/ip4/127.0.0.1/tcp/2'],
      policyCid: POLICY_CID,
      list: d.list,
    });
    await setStatus(d, 1n, 'active');

    const sync = follow(d);
    const changes: number[] = [];
    sync.addEventListener('change', ({ detail }) => changes.push(detail.size));
    await sync.syncOnce();
    expect(changes).to.deep.equal([2]);
    expect(sync.isActiveKey(keyA)).to.equal(true);
    expect(sync.isActiveKey(keyB)).to.equal(false);
    expect(sync.serverByPeerId(keyB)?.status).to.equal('applied');

    const keyA2 = randomBytes(38);
    await rotateServerKey(d.outsider, { registry: d.registry, serverId: 1n, peerId: keyA2 });
    await updateServerEndpoints(d.outsider, {
      registry: d.registry,
      serverId: 2n,
      multiaddrs: ['/ip4/127.0.0.1/tcp/3'],
    });
    await setStatus(d, 2n, 'active');
    await setStatus(d, 2n, 'removed');
    await sync.syncOnce();
    expect(sync.serverByPeerId(keyA)).to.equal(undefined);
    expect(sync.isActiveKey(keyA2)).to.equal(false, 'a rotated key needs re-activation');
    expect(sync.serverByPeerId(keyA2)?.status).to.equal('applied');
    expect(sync.servers.get(2n)?.multiaddrs).to.deep.equal(['/ip4/127.0.0.1/tcp/3']);
    expect(sync.isActiveKey(keyB)).to.equal(false, 'a removed server counts no more');
  });

  it('resumes from its checkpoint and rolls back events a reorganisation removed', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const key = randomBytes(38);
    await registerServer(d.outsider, {
      registry: d.registry,
      peerId: key,
      multiaddrs: ['/ip4/127.0.0.1/tcp/1'],
      policyCid: POLICY_CID,
      list: d.list,
    });
    const checkpointPath = join(dir, 'registry.json');
    await follow(d, checkpointPath).syncOnce();

    const beforeActivation = await networkHelpers.takeSnapshot();
    await setStatus(d, 1n, 'active');
    const restarted = follow(d, checkpointPath);
    await restarted.restore();
    expect(restarted.serverByPeerId(key)?.status).to.equal('applied');
    await restarted.syncOnce();
    expect(restarted.isActiveKey(key)).to.equal(true);

    await beforeActivation.restore();
    await networkHelpers.mine(3);
    await restarted.syncOnce();
    expect(restarted.isActiveKey(key)).to.equal(false);
    expect(restarted.serverByPeerId(key)?.status).to.equal('applied');
  });
});

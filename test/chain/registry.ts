import { expect } from 'chai';
import { randomBytes } from 'ethers';
import { waitForTransactionReceipt } from 'viem/actions';
import { ratingServerRegistryAbi } from '../../src/chain/abis.js';
import { describeContractError } from '../../src/chain/describe-error.js';
import { UnknownServerError } from '../../src/chain/errors.js';
import {
  getRegistryLogs,
  getServer,
  getServerByPeerId,
  getServers,
  isActiveServerKey,
  type RatingServer,
  registerServer,
  rotateServerKey,
  serverStatusCall,
  updateServerEndpoints,
} from '../../src/chain/registry.js';
import { networkHelpers } from '../helpers/dao.js';
import { impersonatedWallet, publicClient, type ViemDao, viemDaoFixture } from './helpers.js';

const POLICY_CID = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';
const MULTIADDRS = ['/ip4/203.0.113.5/tcp/4001', '/dns4/rating.example.org/tcp/443/wss'];

/** Random bytes standing in for a libp2p peer id. */
function somePeerId(): Uint8Array {
  return randomBytes(38);
}

/** Moves server `serverId` to `status` as the impersonated timelock, with the call a proposal would make. */
async function setStatusAsTimelock(d: ViemDao, serverId: bigint, status: 'active' | 'suspended' | 'removed') {
  const timelock = await impersonatedWallet(d.timelock);
  const { target, data } = serverStatusCall(d.registry, serverId, status);
  await waitForTransactionReceipt(publicClient, { hash: await timelock.sendTransaction({ to: target, data }) });
}

/** A registry with one applied server, registered by the outsider. */
async function registryFixture() {
  const d = await viemDaoFixture();
  const peerId = somePeerId();
  const registered = await registerServer(d.outsider, {
    registry: d.registry,
    peerId,
    multiaddrs: MULTIADDRS,
    policyCid: POLICY_CID,
    list: d.list,
  });
  return { ...d, peerId, registered };
}

describe('chain client: registry', () => {
  it('registers a server and reads it by id, by status and by peer id', async () => {
    const d = await networkHelpers.loadFixture(registryFixture);
    expect(d.registered.serverId).to.equal(1n);
    const server = await getServer(publicClient, { registry: d.registry, serverId: 1n });
    const block = await publicClient.getBlock({ blockNumber: d.registered.receipt.blockNumber });
    expect(server).to.deep.equal({
      serverId: 1n,
      operator: d.outsider.account.address,
      status: 'applied',
      registeredAt: Number(block.timestamp),
      updatedAt: Number(block.timestamp),
      list: d.list,
      peerId: d.peerId,
      policyCid: POLICY_CID,
      multiaddrs: MULTIADDRS,
    } satisfies RatingServer);

    expect(await getServers(publicClient, { registry: d.registry })).to.deep.equal([server]);
    expect(await getServers(publicClient, { registry: d.registry, status: 'applied' })).to.deep.equal([server]);
    expect(await getServers(publicClient, { registry: d.registry, status: 'active' })).to.deep.equal([]);
    expect(await getServerByPeerId(publicClient, { registry: d.registry, peerId: d.peerId })).to.deep.equal(server);
    expect(await getServerByPeerId(publicClient, { registry: d.registry, peerId: somePeerId() })).to.equal(null);
    expect(await isActiveServerKey(publicClient, { registry: d.registry, peerId: d.peerId })).to.equal(false);

    const unknown = await getServer(publicClient, { registry: d.registry, serverId: 9n }).catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(UnknownServerError);
    expect((unknown as Error).message).to.equal(`No rating server 9 in registry ${d.registry}.`);
  });

  it('counts a server key as active only while the server is active', async () => {
    const d = await networkHelpers.loadFixture(registryFixture);
    await setStatusAsTimelock(d, 1n, 'active');
    expect(await isActiveServerKey(publicClient, { registry: d.registry, peerId: d.peerId })).to.equal(true);
    expect(
      (await getServers(publicClient, { registry: d.registry, status: 'active' })).map((s) => s.serverId),
    ).to.deep.equal([1n]);
    await setStatusAsTimelock(d, 1n, 'suspended');
    expect(await isActiveServerKey(publicClient, { registry: d.registry, peerId: d.peerId })).to.equal(false);
    expect((await getServer(publicClient, { registry: d.registry, serverId: 1n })).status).to.equal('suspended');
  });

  it('lets the operator update endpoints and rotate the key, which needs a new vote', async () => {
    const d = await networkHelpers.loadFixture(registryFixture);
    await setStatusAsTimelock(d, 1n, 'active');
    await updateServerEndpoints(d.outsider, { registry: d.registry, serverId: 1n, multiaddrs: [MULTIADDRS[1]] });
    const newPeerId = somePeerId();
    await rotateServerKey(d.outsider, { registry: d.registry, serverId: 1n, peerId: newPeerId });
    const server = await getServer(publicClient, { registry: d.registry, serverId: 1n });
    expect(server).to.deep.include({ status: 'applied', peerId: newPeerId, multiaddrs: [MULTIADDRS[1]] });
    expect(await getServerByPeerId(publicClient, { registry: d.registry, peerId: d.peerId })).to.equal(null);
  });

  it('reads all four kinds of registry events, typed, the same in small pages', async () => {
    const d = await networkHelpers.loadFixture(registryFixture);
    await setStatusAsTimelock(d, 1n, 'active');
    await networkHelpers.mine(3);
    await updateServerEndpoints(d.outsider, { registry: d.registry, serverId: 1n, multiaddrs: [MULTIADDRS[0]] });
    const newPeerId = somePeerId();
    await rotateServerKey(d.outsider, { registry: d.registry, serverId: 1n, peerId: newPeerId });
    const second = await registerServer(d.holders[2], {
      registry: d.registry,
      peerId: somePeerId(),
      multiaddrs: [MULTIADDRS[1]],
      policyCid: POLICY_CID,
      list: d.list,
    });
    expect(second.serverId).to.equal(2n);

    const logs = await getRegistryLogs(publicClient, { registry: d.registry, fromBlock: 0n });
    expect(logs.map((log) => [log.eventName, log.serverId])).to.deep.equal([
      ['ServerRegistered', 1n],
      ['ServerStatusChanged', 1n],
      ['ServerEndpointsUpdated', 1n],
      ['ServerKeyRotated', 1n],
      ['ServerStatusChanged', 1n],
      ['ServerRegistered', 2n],
    ]);
    const [registered, activated, updated, rotated, backToApplied] = logs;
    expect(registered).to.deep.include({
      operator: d.outsider.account.address,
      list: d.list,
      peerId: d.peerId,
      policyCid: POLICY_CID,
      multiaddrs: MULTIADDRS,
      transactionHash: d.registered.hash,
      blockNumber: d.registered.receipt.blockNumber,
    });
    expect(activated).to.deep.include({ previous: 'applied', current: 'active' });
    expect(updated).to.deep.include({ multiaddrs: [MULTIADDRS[0]] });
    expect(rotated).to.deep.include({ previousPeerId: d.peerId, peerId: newPeerId });
    expect(backToApplied).to.deep.include({ previous: 'active', current: 'applied' });
    // The union narrows on eventName.
    const statuses = logs.flatMap((log) => (log.eventName === 'ServerStatusChanged' ? [log.current] : []));
    expect(statuses).to.deep.equal(['active', 'applied']);

    for (const maxBlockRange of [1n, 2n, 4n]) {
      expect(await getRegistryLogs(publicClient, { registry: d.registry, fromBlock: 0n, maxBlockRange })).to.deep.equal(
        logs,
      );
    }
  });

  it('puts registry reverts in words', async () => {
    const d = await networkHelpers.loadFixture(registryFixture);
    const taken = await registerServer(d.holders[1], {
      registry: d.registry,
      peerId: d.peerId,
      multiaddrs: MULTIADDRS,
      policyCid: POLICY_CID,
      list: d.list,
    }).catch((e: unknown) => e);
    expect(describeContractError(taken)).to.match(/^The peer id 0x[0-9a-f]+ already belongs to rating server 1\.$/);

    const notOperator = await updateServerEndpoints(d.holders[1], {
      registry: d.registry,
      serverId: 1n,
      multiaddrs: MULTIADDRS,
    }).catch((e: unknown) => e);
    expect(describeContractError(notOperator)).to.equal(
      `${d.holders[1].account.address} is not the operator of rating server 1.`,
    );

    const timelock = await impersonatedWallet(d.timelock);
    const invalid = await timelock
      .writeContract({ address: d.registry, abi: ratingServerRegistryAbi, functionName: 'suspend', args: [1n] })
      .catch((e: unknown) => e);
    expect(describeContractError(invalid)).to.equal('Rating server 1 cannot go from applied to suspended.');
    // A plain transaction carries no ABI, yet the revert data still decodes against the DAO's errors.
    const { data } = serverStatusCall(d.registry, 1n, 'suspended');
    const raw = await timelock.sendTransaction({ to: d.registry, data }).catch((e: unknown) => e);
    expect(describeContractError(raw)).to.equal('Rating server 1 cannot go from applied to suspended.');
  });
});

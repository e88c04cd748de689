import { expect } from 'chai';
import { hexlify, randomBytes, ZeroAddress } from 'ethers';
import { deployDao, ethers, networkHelpers, passProposal, proposal } from './helpers/dao.js';
import { impersonate } from './helpers/impersonate.js';

const Status = { None: 0n, Applied: 1n, Active: 2n, Suspended: 3n, Removed: 4n } as const;
const POLICY = 'bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja';
const ADDRS = ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'];

/** Random bytes shaped like an Ed25519 libp2p peer id (identity multihash of the protobuf key). */
function peerId(): string {
  return hexlify(new Uint8Array([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...randomBytes(32)]));
}

describe('RatingServerRegistry', () => {
  async function fixture() {
    const dao = await deployDao();
    const executor = await impersonate(dao.timelock);
    const [operator, other] = dao.outsiders;
    return { ...dao, executor, operator, other };
  }

  /** A fixture with one applied server, id 1. */
  async function appliedFixture() {
    const f = await fixture();
    const key = peerId();
    await f.registry.connect(f.operator).register(key, ADDRS, POLICY, f.list);
    return { ...f, key, serverId: 1n };
  }

  describe('register', () => {
    it('is open to anyone and records the application', async () => {
      const { registry, list, operator } = await networkHelpers.loadFixture(fixture);
      const key = peerId();
      await expect(registry.connect(operator).register(key, ADDRS, POLICY, list))
        .to.emit(registry, 'ServerRegistered')
        .withArgs(1n, operator.address, await list.getAddress(), key, POLICY, ADDRS);
      const server = await registry.getServer(1n);
      expect(server.operator).to.equal(operator.address);
      expect(server.status).to.equal(Status.Applied);
      expect(server.peerId).to.equal(key);
      expect(server.multiaddrs).to.deep.equal(ADDRS);
      expect(server.policyCid).to.equal(POLICY);
      expect(server.list).to.equal(await list.getAddress());
      expect(server.registeredAt).to.equal(await networkHelpers.time.latest());
      expect(await registry.serverCount()).to.equal(1n);
      expect(await registry.serverIdOf(key)).to.equal(1n);
      expect(await registry.isActive(key)).to.equal(false);
      expect(await registry.serverIdsByStatus(Status.Applied)).to.deep.equal([1n]);
    });

    it('rejects a peer id that a live server already has', async () => {
      const { registry, list, other, key } = await networkHelpers.loadFixture(appliedFixture);
      await expect(registry.connect(other).register(key, ADDRS, POLICY, list))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryPeerIdTaken')
        .withArgs(key, 1n);
    });

    it('rejects empty fields', async () => {
      const { registry, list, operator } = await networkHelpers.loadFixture(fixture);
      const r = registry.connect(operator);
      await expect(r.register('0x', ADDRS, POLICY, list)).to.be.revertedWithCustomError(
        registry,
        'RatingServerRegistryEmptyPeerId',
      );
      await expect(r.register(peerId(), ADDRS, '', list)).to.be.revertedWithCustomError(
        registry,
        'RatingServerRegistryEmptyPolicyCid',
      );
      await expect(r.register(peerId(), [], POLICY, list))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryMultiaddrCount')
        .withArgs(0n, 16n);
      await expect(r.register(peerId(), [ADDRS[0], ''], POLICY, list))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryEmptyMultiaddr')
        .withArgs(1n);
    });

    it('rejects too many multiaddrs, and a list that is not a contract', async () => {
      const { registry, list, operator } = await networkHelpers.loadFixture(fixture);
      const r = registry.connect(operator);
      const many = Array.from({ length: 17 }, (_, i) => `/ip4/127.0.0.1/tcp/${4000 + i}`);
      expect(await registry.maxMultiaddrs()).to.equal(16n);
      await expect(r.register(peerId(), many, POLICY, list))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryMultiaddrCount')
        .withArgs(17n, 16n);
      for (const notAList of [ZeroAddress, operator.address]) {
        await expect(r.register(peerId(), ADDRS, POLICY, notAList))
          .to.be.revertedWithCustomError(registry, 'RatingServerRegistryInvalidList')
          .withArgs(notAList);
      }
    });
  });

  describe('status by vote', () => {
    it('activates a server through a full governance cycle', async () => {
      const dao = await networkHelpers.loadFixture(appliedFixture);
      const { registry, key } = dao;
      const p = proposal(
        [{ target: registry.target as string, iface: registry.interface, method: 'activate', args: [1n] }],
        'Activate rating server 1',
      );
      const { receipt } = await passProposal(dao, p);
      const changed = receipt?.logs
        .map((log) => registry.interface.parseLog(log))
        .find((log) => log?.name === 'ServerStatusChanged');
      expect(changed?.args.toArray()).to.deep.equal([1n, Status.Applied, Status.Active]);
      expect((await registry.getServer(1n)).status).to.equal(Status.Active);
      expect(await registry.isActive(key)).to.equal(true);
      expect(await registry.serverIdsByStatus(Status.Active)).to.deep.equal([1n]);
      expect(await registry.serverIdsByStatus(Status.Applied)).to.deep.equal([]);
    });

    it('suspends, reactivates and removes, freeing the peer id for a new application', async () => {
      const { registry, executor, other, list, key } = await networkHelpers.loadFixture(appliedFixture);
      const r = registry.connect(executor);
      await r.activate(1n);
      await expect(r.suspend(1n))
        .to.emit(registry, 'ServerStatusChanged')
        .withArgs(1n, Status.Active, Status.Suspended);
      expect(await registry.isActive(key)).to.equal(false);
      await expect(r.activate(1n))
        .to.emit(registry, 'ServerStatusChanged')
        .withArgs(1n, Status.Suspended, Status.Active);
      await expect(r.remove(1n)).to.emit(registry, 'ServerStatusChanged').withArgs(1n, Status.Active, Status.Removed);
      expect(await registry.serverIdOf(key)).to.equal(0n);
      expect(await registry.isActive(key)).to.equal(false);
      expect(await registry.serverIdsByStatus(Status.Removed)).to.deep.equal([1n]);

      // A squatter's removal frees the id for whoever really holds the key.
      await registry.connect(other).register(key, ADDRS, POLICY, list);
      expect(await registry.serverIdOf(key)).to.equal(2n);
    });

    it('rejects transitions that make no sense', async () => {
      const { registry, executor } = await networkHelpers.loadFixture(appliedFixture);
      const r = registry.connect(executor);
      await expect(r.suspend(1n))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryInvalidTransition')
        .withArgs(1n, Status.Applied, Status.Suspended);
      await r.activate(1n);
      await expect(r.activate(1n))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryInvalidTransition')
        .withArgs(1n, Status.Active, Status.Active);
      await r.remove(1n);
      for (const [action, to] of [
        ['activate', Status.Active],
        ['suspend', Status.Suspended],
        ['remove', Status.Removed],
      ] as const) {
        await expect(r[action](1n))
          .to.be.revertedWithCustomError(registry, 'RatingServerRegistryInvalidTransition')
          .withArgs(1n, Status.Removed, to);
      }
    });

    it('rejects unknown server ids', async () => {
      const { registry, executor } = await networkHelpers.loadFixture(appliedFixture);
      for (const action of ['activate', 'suspend', 'remove'] as const) {
        await expect(registry.connect(executor)[action](2n))
          .to.be.revertedWithCustomError(registry, 'RatingServerRegistryUnknownServer')
          .withArgs(2n);
      }
      await expect(registry.getServer(0n))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryUnknownServer')
        .withArgs(0n);
    });

    it('lets only the governance executor change a status', async () => {
      const { registry, governor, operator, deployer, holders } = await networkHelpers.loadFixture(appliedFixture);
      const governorSigner = await impersonate(governor);
      for (const caller of [operator, deployer, holders[1], governorSigner]) {
        for (const action of ['activate', 'suspend', 'remove'] as const) {
          await expect(registry.connect(caller)[action](1n))
            .to.be.revertedWithCustomError(registry, 'RatingServerRegistryUnauthorized')
            .withArgs(caller.address);
        }
      }
    });
  });

  describe('operator', () => {
    it('updates endpoints', async () => {
      const { registry, operator } = await networkHelpers.loadFixture(appliedFixture);
      const addrs = ['/dns4/rating.example/tcp/443/wss'];
      await expect(registry.connect(operator).updateEndpoints(1n, addrs))
        .to.emit(registry, 'ServerEndpointsUpdated')
        .withArgs(1n, addrs);
      const server = await registry.getServer(1n);
      expect(server.multiaddrs).to.deep.equal(addrs);
      expect(server.updatedAt).to.equal(await networkHelpers.time.latest());
      await expect(registry.connect(operator).updateEndpoints(1n, []))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryMultiaddrCount')
        .withArgs(0n, 16n);
    });

    it('rotates the key, which sends an active server back for re-activation', async () => {
      const { registry, executor, operator, key } = await networkHelpers.loadFixture(appliedFixture);
      await registry.connect(executor).activate(1n);
      const newKey = peerId();
      const tx = registry.connect(operator).rotateKey(1n, newKey);
      await expect(tx).to.emit(registry, 'ServerKeyRotated').withArgs(1n, key, newKey);
      await expect(tx).to.emit(registry, 'ServerStatusChanged').withArgs(1n, Status.Active, Status.Applied);
      expect(await registry.isActive(newKey)).to.equal(false);
      expect(await registry.serverIdOf(key)).to.equal(0n);
      expect(await registry.serverIdOf(newKey)).to.equal(1n);
      await registry.connect(executor).activate(1n);
      expect(await registry.isActive(newKey)).to.equal(true);
    });

    it('keeps a suspended server suspended when it rotates its key', async () => {
      const { registry, executor, operator } = await networkHelpers.loadFixture(appliedFixture);
      await registry.connect(executor).activate(1n);
      await registry.connect(executor).suspend(1n);
      await expect(registry.connect(operator).rotateKey(1n, peerId())).to.not.emit(registry, 'ServerStatusChanged');
      expect((await registry.getServer(1n)).status).to.equal(Status.Suspended);
    });

    it('rejects a rotation to an empty or taken key', async () => {
      const { registry, operator, other, list, key } = await networkHelpers.loadFixture(appliedFixture);
      const otherKey = peerId();
      await registry.connect(other).register(otherKey, ADDRS, POLICY, list);
      await expect(registry.connect(operator).rotateKey(1n, otherKey))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryPeerIdTaken')
        .withArgs(otherKey, 2n);
      await expect(registry.connect(operator).rotateKey(1n, '0x')).to.be.revertedWithCustomError(
        registry,
        'RatingServerRegistryEmptyPeerId',
      );
      expect(await registry.serverIdOf(key)).to.equal(1n);
    });

    it('lets no one else update or rotate, and nobody touch a removed server', async () => {
      const { registry, executor, operator, other } = await networkHelpers.loadFixture(appliedFixture);
      for (const caller of [other, executor]) {
        await expect(registry.connect(caller).updateEndpoints(1n, ADDRS))
          .to.be.revertedWithCustomError(registry, 'RatingServerRegistryNotOperator')
          .withArgs(1n, caller.address);
        await expect(registry.connect(caller).rotateKey(1n, peerId()))
          .to.be.revertedWithCustomError(registry, 'RatingServerRegistryNotOperator')
          .withArgs(1n, caller.address);
      }
      await registry.connect(executor).remove(1n);
      await expect(registry.connect(operator).updateEndpoints(1n, ADDRS))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryServerRemoved')
        .withArgs(1n);
      await expect(registry.connect(operator).rotateKey(1n, peerId()))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryServerRemoved')
        .withArgs(1n);
      await expect(registry.connect(operator).updateEndpoints(9n, ADDRS))
        .to.be.revertedWithCustomError(registry, 'RatingServerRegistryUnknownServer')
        .withArgs(9n);
    });
  });

  it('is bound to the DAO’s timelock as its executor', async () => {
    const { registry, timelock } = await networkHelpers.loadFixture(fixture);
    expect(await registry.executor()).to.equal(await timelock.getAddress());
  });

  it('rejects a zero executor at deployment', async () => {
    const factory = await ethers.getContractFactory('RatingServerRegistry');
    await expect(factory.deploy(ZeroAddress)).to.be.revertedWithCustomError(
      factory,
      'RatingServerRegistryZeroExecutor',
    );
  });
});

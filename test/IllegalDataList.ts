import { anyUint } from '@nomicfoundation/hardhat-ethers-chai-matchers/withArgs';
import { expect } from 'chai';
import { hexlify, ZeroAddress, ZeroHash } from 'ethers';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import ListForkModule from '../ignition/modules/ListFork.js';
import {
  type Dao,
  daoFixture,
  deployDao,
  ethers,
  ignition,
  LOCAL_AMOUNTS,
  LOCAL_PARAMETERS,
  networkHelpers,
  passProposal,
  proposal,
} from './helpers/dao.js';
import { impersonate } from './helpers/impersonate.js';
import { cidBytes, entryTree, proofOf, randomEntryIds } from './helpers/merkle.js';

// A CIDv1 (dag-cbor) and a CIDv0, the two forms a payload CID can take.
const CID_1 = cidBytes('bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje');
const CID_2 = cidBytes('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG');
const POLICY_CID = LOCAL_PARAMETERS.listPolicyCid;

describe('IllegalDataList', () => {
  /** A DAO whose list is at version 1 with 10 entries, published by the timelock directly. */
  async function fixture() {
    const dao = await deployDao();
    const executor = await impersonate(dao.timelock);
    const v1 = randomEntryIds(10);
    const tree1 = entryTree(v1);
    await dao.list.connect(executor).publishVersion(0n, tree1.root, 10n, 10n, 0n, CID_1);
    return { ...dao, executor, v1, tree1 };
  }

  describe('publishVersion', () => {
    it('publishes a version built on the current one, keeping every older version readable', async () => {
      const { list, executor, v1, tree1 } = await networkHelpers.loadFixture(fixture);
      const v2 = [...v1.slice(3), ...randomEntryIds(5)];
      const tree2 = entryTree(v2);
      const tx = list.connect(executor).publishVersion(1n, tree2.root, 12n, 5n, 3n, CID_2);
      await expect(tx).to.emit(list, 'VersionPublished').withArgs(2n, 1n, tree2.root, 12n, 5n, 3n, CID_2, anyUint);
      expect(await list.currentVersion()).to.equal(2n);
      const version2 = await list.getVersion(2n);
      expect([version2.root, version2.count, version2.added, version2.removed, version2.parentVersion]).to.deep.equal([
        tree2.root,
        12n,
        5n,
        3n,
        1n,
      ]);
      expect(version2.publishedAt).to.equal(await networkHelpers.time.latest());
      expect((await list.getVersion(1n)).root).to.equal(tree1.root);
    });

    it('can empty the list, with the zero root', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      await list.connect(executor).publishVersion(1n, ZeroHash, 0n, 0n, 10n, CID_2);
      expect((await list.getVersion(2n)).count).to.equal(0n);
    });

    it('lets only the governance executor publish', async () => {
      const { list, governor, deployer, holders, outsiders } = await networkHelpers.loadFixture(fixture);
      const root = entryTree(randomEntryIds(1)).root;
      const governorSigner = await impersonate(governor);
      for (const caller of [deployer, holders[1], outsiders[0], governorSigner]) {
        await expect(list.connect(caller).publishVersion(1n, root, 11n, 1n, 0n, CID_2))
          .to.be.revertedWithCustomError(list, 'IllegalDataListUnauthorized')
          .withArgs(caller.address);
      }
    });

    it('rejects a proposal built on an outdated version', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      const root = entryTree(randomEntryIds(11)).root;
      await expect(list.connect(executor).publishVersion(0n, root, 11n, 1n, 0n, CID_2))
        .to.be.revertedWithCustomError(list, 'IllegalDataListStaleParent')
        .withArgs(0n, 1n);
      await expect(list.connect(executor).publishVersion(2n, root, 11n, 1n, 0n, CID_2))
        .to.be.revertedWithCustomError(list, 'IllegalDataListStaleParent')
        .withArgs(2n, 1n);
    });

    it('rejects a zero root for a non-empty set, and a non-zero root for the empty set', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      await expect(
        list.connect(executor).publishVersion(1n, ZeroHash, 11n, 1n, 0n, CID_2),
      ).to.be.revertedWithCustomError(list, 'IllegalDataListZeroRoot');
      const root = entryTree(randomEntryIds(1)).root;
      await expect(list.connect(executor).publishVersion(1n, root, 0n, 0n, 10n, CID_2))
        .to.be.revertedWithCustomError(list, 'IllegalDataListEmptySetRoot')
        .withArgs(root);
    });

    it('stores binary CIDs of either version and returns them intact', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      expect((await list.getVersion(1n)).payloadCid).to.equal(CID_1);
      const raw = cidBytes('bafkreiggvevbocchx2r5kwth37o74qdqu25teoctv333lcpzaqk5oqdcja');
      // dag-json (two-byte codec) with blake2b-256 (three-byte hash code): a seven-byte prefix.
      const blake2b256 = Digest.create(0xb220, new Uint8Array(32).fill(0xab));
      const dagJsonBlake2b = hexlify(CID.create(1, 0x0129, blake2b256).bytes);
      expect(ethers.getBytes(dagJsonBlake2b)).to.have.length(39);
      let parent = 1n;
      for (const cid of [CID_2, raw, dagJsonBlake2b]) {
        await list.connect(executor).publishVersion(parent, entryTree(randomEntryIds(10)).root, 10n, 0n, 0n, cid);
        parent += 1n;
        expect((await list.getVersion(parent)).payloadCid).to.equal(cid);
      }
    });

    it('rejects an empty payload CID, and a CID that is not a 32-byte digest with a short prefix', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      const root = entryTree(randomEntryIds(11)).root;
      await expect(list.connect(executor).publishVersion(1n, root, 11n, 1n, 0n, '0x')).to.be.revertedWithCustomError(
        list,
        'IllegalDataListEmptyPayloadCid',
      );
      const digestOnly = `0x${'ab'.repeat(32)}`;
      const longPrefix = `0x${'01'.repeat(8)}${'ab'.repeat(32)}`;
      for (const cid of [digestOnly, longPrefix]) {
        await expect(list.connect(executor).publishVersion(1n, root, 11n, 1n, 0n, cid))
          .to.be.revertedWithCustomError(list, 'IllegalDataListUnsupportedPayloadCid')
          .withArgs(cid);
      }
    });

    it('rejects counts that cannot be right', async () => {
      const { list, executor } = await networkHelpers.loadFixture(fixture);
      const root = entryTree(randomEntryIds(11)).root;
      // 10 + 1 − 0 is 11, not 12.
      await expect(list.connect(executor).publishVersion(1n, root, 12n, 1n, 0n, CID_2))
        .to.be.revertedWithCustomError(list, 'IllegalDataListCountMismatch')
        .withArgs(12n, 11n);
      // Removing 11 of 10 entries.
      await expect(list.connect(executor).publishVersion(1n, root, 1n, 2n, 11n, CID_2))
        .to.be.revertedWithCustomError(list, 'IllegalDataListRemovedExceedsCount')
        .withArgs(11n, 10n);
    });
  });

  describe('membership', () => {
    it('verifies on chain the TypeScript-built proofs of present ids', async () => {
      const { list, v1, tree1 } = await networkHelpers.loadFixture(fixture);
      for (const entryId of v1) {
        expect(await list.isListed(entryId, proofOf(tree1, entryId))).to.equal(true);
        expect(await list.isListedAt(1n, entryId, proofOf(tree1, entryId))).to.equal(true);
      }
    });

    it('computes the same leaf as the TypeScript tree', async () => {
      const { list, v1, tree1 } = await networkHelpers.loadFixture(fixture);
      expect(await list.entryLeaf(v1[0])).to.equal(tree1.leafHash([v1[0]]));
    });

    it('answers false for absent ids, whatever proof is offered', async () => {
      const { list, v1, tree1 } = await networkHelpers.loadFixture(fixture);
      const [absent] = randomEntryIds(1);
      expect(await list.isListed(absent, [])).to.equal(false);
      expect(await list.isListed(absent, proofOf(tree1, v1[0]))).to.equal(false);
      // A leaf or an inner node of the tree is not an entry id.
      expect(await list.isListed(tree1.leafHash([v1[0]]), proofOf(tree1, v1[0]).slice(1))).to.equal(false);
      expect(await list.isListed(tree1.root, [])).to.equal(false);
    });

    it('answers for a named version after the list moved on', async () => {
      const { list, executor, v1, tree1 } = await networkHelpers.loadFixture(fixture);
      const v2 = v1.slice(1);
      const tree2 = entryTree(v2);
      await list.connect(executor).publishVersion(1n, tree2.root, 9n, 0n, 1n, CID_2);
      const removed = v1[0];
      expect(await list.isListed(removed, proofOf(tree1, removed))).to.equal(false);
      expect(await list.isListedAt(1n, removed, proofOf(tree1, removed))).to.equal(true);
      expect(await list.isListedAt(2n, removed, proofOf(tree1, removed))).to.equal(false);
      expect(await list.isListed(v2[0], proofOf(tree2, v2[0]))).to.equal(true);
    });

    it('has nothing listed before the first version, and rejects unknown versions', async () => {
      const { list } = await networkHelpers.loadFixture(daoFixture);
      const [entryId] = randomEntryIds(1);
      expect(await list.currentVersion()).to.equal(0n);
      expect(await list.isListed(entryId, [])).to.equal(false);
      for (const version of [0n, 1n]) {
        await expect(list.getVersion(version))
          .to.be.revertedWithCustomError(list, 'IllegalDataListUnknownVersion')
          .withArgs(version, 0n);
        await expect(list.isListedAt(version, entryId, []))
          .to.be.revertedWithCustomError(list, 'IllegalDataListUnknownVersion')
          .withArgs(version, 0n);
      }
    });
  });

  describe('deployment', () => {
    async function deployList(...args: Parameters<Awaited<ReturnType<typeof listFactory>>['deploy']>) {
      return (await listFactory()).deploy(...args);
    }
    const listFactory = () => ethers.getContractFactory('IllegalDataList');

    it('binds the list to its executor and policy, with no parent', async () => {
      const { list, timelock } = await networkHelpers.loadFixture(daoFixture);
      expect(await list.executor()).to.equal(await timelock.getAddress());
      expect(await list.policyCid()).to.equal(POLICY_CID);
      expect(await list.parent()).to.deep.equal([ZeroAddress, 0n]);
    });

    it('can start with an initial set at version 1', async () => {
      const [executor] = await ethers.getSigners();
      const tree = entryTree(randomEntryIds(4));
      const list = await deployList(executor, POLICY_CID, ZeroAddress, 0n, tree.root, 4n, 0n, CID_1);
      expect(await list.currentVersion()).to.equal(1n);
      const version = await list.getVersion(1n);
      expect([version.count, version.added, version.removed]).to.deep.equal([4n, 4n, 0n]);
    });

    it('rejects a zero executor and an empty policy CID', async () => {
      const [executor] = await ethers.getSigners();
      const factory = await listFactory();
      await expect(
        deployList(ZeroAddress, POLICY_CID, ZeroAddress, 0n, ZeroHash, 0n, 0n, '0x'),
      ).to.be.revertedWithCustomError(factory, 'IllegalDataListZeroExecutor');
      await expect(deployList(executor, '', ZeroAddress, 0n, ZeroHash, 0n, 0n, '0x')).to.be.revertedWithCustomError(
        factory,
        'IllegalDataListEmptyPolicyCid',
      );
    });

    it('rejects a fork of an account that is not a list contract', async () => {
      const [executor, notAContract] = await ethers.getSigners();
      const factory = await listFactory();
      await expect(deployList(executor, POLICY_CID, notAContract, 1n, ZeroHash, 0n, 0n, CID_1))
        .to.be.revertedWithCustomError(factory, 'IllegalDataListInvalidParent')
        .withArgs(notAContract.address);
    });

    it('rejects a fork of an unknown version, or with a count that does not match the parent', async () => {
      const { list: parent, executor, tree1 } = await networkHelpers.loadFixture(fixture);
      const factory = await listFactory();
      await expect(deployList(executor, POLICY_CID, parent, 2n, tree1.root, 10n, 0n, CID_1))
        .to.be.revertedWithCustomError(parent, 'IllegalDataListUnknownVersion')
        .withArgs(2n, 1n);
      await expect(deployList(executor, POLICY_CID, parent, 1n, tree1.root, 10n, 1n, CID_1))
        .to.be.revertedWithCustomError(factory, 'IllegalDataListCountMismatch')
        .withArgs(10n, 9n);
      await expect(deployList(executor, POLICY_CID, parent, 1n, ZeroHash, 0n, 11n, CID_1))
        .to.be.revertedWithCustomError(factory, 'IllegalDataListRemovedExceedsCount')
        .withArgs(11n, 10n);
      await expect(
        deployList(executor, POLICY_CID, parent, 1n, tree1.root, 10n, 0n, '0x'),
      ).to.be.revertedWithCustomError(factory, 'IllegalDataListEmptyPayloadCid');
    });
  });

  describe('fork (ListFork module)', () => {
    /** The parent at version 1 with 10 entries, by vote; a fork of it without one disputed entry. */
    async function forkFixture() {
      const dao = await deployDao();
      const v1 = randomEntryIds(10);
      const tree1 = entryTree(v1);
      await passProposal(dao, publish(dao, 0n, tree1.root, 10n, 10n, 0n, CID_1, 'Parent version 1'));

      const [disputed, ...kept] = v1;
      const forkTree = entryTree(kept);
      // The protesters hold the fork's tokens: signers 5–7.
      const protesters = dao.outsiders.slice(0, 3);
      const fork = await ignition.deploy(ListForkModule, {
        parameters: {
          ListFork: {
            holders: protesters.map((p) => p.address),
            amounts: LOCAL_AMOUNTS.slice(0, 3),
            tokenName: 'Protest Token',
            tokenSymbol: 'PRT',
            listPolicyCid: POLICY_CID,
            parentList: await dao.list.getAddress(),
            parentVersion: 1n,
            root: forkTree.root,
            count: 9n,
            removed: 1n,
            payloadCid: CID_2,
          },
        },
      });
      const forkDao: Dao = {
        ...dao,
        token: await ethers.getContractAt('RatingToken', await fork.token.getAddress()),
        timelock: await ethers.getContractAt('TimelockController', await fork.timelock.getAddress()),
        governor: await ethers.getContractAt('RatingGovernor', await fork.governor.getAddress()),
        list: await ethers.getContractAt('IllegalDataList', await fork.list.getAddress()),
        holders: protesters,
      };
      return { parentDao: dao, forkDao, v1, tree1, disputed, kept, forkTree };
    }

    function publish(
      dao: Dao,
      parentVersion: bigint,
      root: string,
      count: bigint,
      added: bigint,
      removed: bigint,
      cid: string,
      description: string,
    ) {
      return proposal(
        [
          {
            target: dao.list.target as string,
            iface: dao.list.interface,
            method: 'publishVersion',
            args: [parentVersion, root, count, added, removed, cid],
          },
        ],
        description,
      );
    }

    it('records its parent list and version, and starts from the parent minus the disputed entry', async () => {
      const { parentDao, forkDao, disputed, kept, forkTree, tree1 } = await networkHelpers.loadFixture(forkFixture);
      const fork = forkDao.list;
      expect(await fork.parent()).to.deep.equal([await parentDao.list.getAddress(), 1n]);
      expect(await fork.currentVersion()).to.equal(1n);
      const genesis = await fork.getVersion(1n);
      expect([genesis.root, genesis.count, genesis.added, genesis.removed, genesis.parentVersion]).to.deep.equal([
        forkTree.root,
        9n,
        0n,
        1n,
        0n,
      ]);
      expect(await fork.isListed(disputed, proofOf(tree1, disputed))).to.equal(false);
      expect(await fork.isListed(kept[0], proofOf(forkTree, kept[0]))).to.equal(true);
      expect(await parentDao.list.isListed(disputed, proofOf(tree1, disputed))).to.equal(true);

      const created = await fork.queryFilter(fork.filters.ListCreated());
      expect(created[0].args.parentList).to.equal(await parentDao.list.getAddress());
      expect(created[0].args.parentVersion).to.equal(1n);
    });

    it('runs its own governance, independently of the parent', async () => {
      const { parentDao, forkDao, kept, v1 } = await networkHelpers.loadFixture(forkFixture);
      expect(await forkDao.list.executor()).to.equal(await forkDao.timelock.getAddress());
      expect(await forkDao.timelock.getAddress()).to.not.equal(await parentDao.timelock.getAddress());

      // The parent's executor cannot touch the fork…
      const parentExecutor = await impersonate(parentDao.timelock);
      const tree = entryTree(kept.slice(1));
      await expect(forkDao.list.connect(parentExecutor).publishVersion(1n, tree.root, 8n, 0n, 1n, CID_1))
        .to.be.revertedWithCustomError(forkDao.list, 'IllegalDataListUnauthorized')
        .withArgs(parentExecutor.address);

      // …the fork's holders vote their own version 2…
      await passProposal(forkDao, publish(forkDao, 1n, tree.root, 8n, 0n, 1n, CID_1, 'Fork version 2'));
      expect(await forkDao.list.currentVersion()).to.equal(2n);

      // …and the parent moves on by its own vote, without affecting the fork.
      const parentTree = entryTree([...v1, ...randomEntryIds(1)]);
      await passProposal(parentDao, publish(parentDao, 1n, parentTree.root, 11n, 1n, 0n, CID_2, 'Parent version 2'));
      expect(await parentDao.list.currentVersion()).to.equal(2n);
      expect((await forkDao.list.getVersion(2n)).root).to.equal(tree.root);
      expect(await forkDao.list.parent()).to.deep.equal([await parentDao.list.getAddress(), 1n]);
    });
  });
});

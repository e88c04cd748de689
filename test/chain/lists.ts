import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import { encodeFunctionData, getAddress, type Hex, toHex, zeroHash } from 'viem';
import { getBlock, waitForTransactionReceipt } from 'viem/actions';
import ListForkModule from '../../ignition/modules/ListFork.js';
import { illegalDataListAbi } from '../../src/chain/abis.js';
import { describeContractError } from '../../src/chain/describe-error.js';
import { UnknownListVersionError } from '../../src/chain/errors.js';
import {
  decodePublishVersion,
  encodePublishVersion,
  getListInfo,
  getListVersion,
  getVersionPublishedLogs,
  isListedOnChain,
  type PublishVersionParameters,
  type VersionPublishedLog,
  watchVersionPublished,
} from '../../src/chain/lists.js';
import { ignition, LOCAL_AMOUNTS, LOCAL_PARAMETERS, networkHelpers } from '../helpers/dao.js';
import { entryTree, randomEntryIds } from '../helpers/merkle.js';
import { impersonatedWallet, POLLING_INTERVAL, publicClient, type ViemDao, viemDaoFixture, within } from './helpers.js';

// A CIDv1 (dag-cbor) and a CIDv0, the two forms a payload CID can take.
const CID_V1 = CID.parse('bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje');
const CID_V0 = CID.parse('QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG');

/** Publishes a version as the impersonated timelock, with calldata from `encodePublishVersion`. */
async function publishAsTimelock(d: ViemDao, version: PublishVersionParameters) {
  const timelock = await impersonatedWallet(d.timelock);
  const hash = await timelock.sendTransaction({ to: d.list, data: encodePublishVersion(version) });
  return waitForTransactionReceipt(publicClient, { hash });
}

/** A DAO whose list is at version 1 with 10 entries. */
async function listFixture() {
  const d = await viemDaoFixture();
  const v1 = randomEntryIds(10) as Hex[];
  const tree1 = entryTree(v1);
  await publishAsTimelock(d, {
    parentVersion: 0n,
    root: tree1.root as Hex,
    count: 10,
    added: 10,
    removed: 0,
    payloadCid: CID_V1,
  });
  return { ...d, v1, tree1 };
}

describe('chain client: lists', () => {
  it('reads what a new list is: executor, policy, no parent, no version yet', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    expect(await getListInfo(publicClient, { list: d.list })).to.deep.equal({
      list: d.list,
      executor: d.timelock,
      policyCid: LOCAL_PARAMETERS.listPolicyCid,
      parent: null,
      currentVersion: 0n,
    });
    const error = await getListVersion(publicClient, { list: d.list }).catch((err: unknown) => err);
    expect(error).to.be.instanceOf(UnknownListVersionError);
    expect((error as Error).message).to.match(/has not published any version yet/);
  });

  it('reads a published version, with its payload CID decoded from binary', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const version = await getListVersion(publicClient, { list: d.list });
    const latest = await getBlock(publicClient);
    expect(version).to.deep.include({
      list: d.list,
      version: 1n,
      root: d.tree1.root,
      count: 10,
      added: 10,
      removed: 0,
      parentVersion: 0n,
      publishedAt: Number(latest.timestamp),
      payloadCidHex: toHex(CID_V1.bytes),
    });
    expect(version.payloadCid.equals(CID_V1)).to.equal(true);
    expect(version.payloadCid.toString()).to.equal(CID_V1.toString());
    expect(await getListVersion(publicClient, { list: d.list, version: 1n })).to.deep.equal(version);
    expect((await getListInfo(publicClient, { list: d.list })).currentVersion).to.equal(1n);
  });

  it('reads a fork: its parent list and version, and its first version', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const kept = d.v1.slice(1);
    const fork = await ignition.deploy(ListForkModule, {
      parameters: {
        ListFork: {
          holders: d.holders.slice(0, 3).map((wallet) => wallet.account.address),
          amounts: LOCAL_AMOUNTS.slice(0, 3),
          listPolicyCid: LOCAL_PARAMETERS.listPolicyCid,
          parentList: d.list,
          parentVersion: 1n,
          root: entryTree(kept).root,
          count: 9n,
          removed: 1n,
          payloadCid: toHex(CID_V0.bytes),
        },
      },
    });
    const forkList = getAddress(await fork.list.getAddress());
    expect(await getListInfo(publicClient, { list: forkList })).to.deep.include({
      parent: { list: d.list, version: 1n },
      currentVersion: 1n,
    });
    const first = await getListVersion(publicClient, { list: forkList });
    expect(first).to.deep.include({ version: 1n, count: 9, added: 0, removed: 1, parentVersion: 0n });
    expect(first.payloadCid.equals(CID_V0)).to.equal(true);
  });

  it('names the current version when asked for one not yet published', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    for (const version of [0n, 2n]) {
      const error = await getListVersion(publicClient, { list: d.list, version }).catch((err: unknown) => err);
      expect(error).to.be.instanceOf(UnknownListVersionError);
      expect(error).to.include({ version, currentVersion: 1n });
      expect((error as Error).message).to.match(/its current version is 1/);
    }
  });

  it('checks membership on chain with a Merkle proof, now and at a version', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const [member] = d.v1;
    const proof = d.tree1.getProof([member]) as Hex[];
    expect(await isListedOnChain(publicClient, { list: d.list, entryId: member, proof })).to.equal(true);
    expect(await isListedOnChain(publicClient, { list: d.list, entryId: member, proof, version: 1n })).to.equal(true);
    const [stranger] = randomEntryIds(1) as Hex[];
    expect(await isListedOnChain(publicClient, { list: d.list, entryId: stranger, proof })).to.equal(false);
  });

  it('decodes the calldata it encodes, for CIDv1 and CIDv0 payloads', () => {
    for (const payloadCid of [CID_V1, CID_V0]) {
      const version: PublishVersionParameters = {
        parentVersion: 7n,
        root: entryTree(randomEntryIds(3)).root as Hex,
        count: 3,
        added: 2,
        removed: 1,
        payloadCid,
      };
      const decoded = decodePublishVersion(encodePublishVersion(version));
      expect({ ...decoded, payloadCid: decoded.payloadCid.toString() }).to.deep.equal({
        ...version,
        payloadCid: payloadCid.toString(),
      });
      expect(decoded.payloadCid.version).to.equal(payloadCid.version);
    }
    const otherCall = encodeFunctionData({ abi: illegalDataListAbi, functionName: 'currentVersion' });
    expect(() => decodePublishVersion(otherCall)).to.throw(/Expected a publishVersion call, got currentVersion/);
  });

  it('reads VersionPublished logs with their positions, the same in small pages as in one range', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    await networkHelpers.mine(5);
    const v2 = [...d.v1.slice(3), ...(randomEntryIds(5) as Hex[])];
    await publishAsTimelock(d, {
      parentVersion: 1n,
      root: entryTree(v2).root as Hex,
      count: 12,
      added: 5,
      removed: 3,
      payloadCid: CID_V0,
    });
    await networkHelpers.mine(7);
    await publishAsTimelock(d, {
      parentVersion: 2n,
      root: zeroHash,
      count: 0,
      added: 0,
      removed: 12,
      payloadCid: CID_V1,
    });
    await networkHelpers.mine(3);

    const all = await getVersionPublishedLogs(publicClient, { list: d.list, fromBlock: 0n });
    expect(all.map((log) => [log.version, log.parentVersion, log.count, log.added, log.removed])).to.deep.equal([
      [1n, 0n, 10, 10, 0],
      [2n, 1n, 12, 5, 3],
      [3n, 2n, 0, 0, 12],
    ]);
    expect(all.map((log) => log.payloadCid?.toString())).to.deep.equal([CID_V1, CID_V0, CID_V1].map(String));
    for (const log of all) {
      const block = await getBlock(publicClient, { blockNumber: log.blockNumber });
      expect(log.blockHash).to.equal(block.hash);
      expect(block.transactions).to.include(log.transactionHash);
      expect(log.publishedAt).to.equal(Number(block.timestamp));
      expect(log.logIndex).to.be.a('number');
      // The log says what the contract says about that version.
      const { blockNumber, blockHash, logIndex, transactionHash, ...version } = log;
      expect(version).to.deep.equal(await getListVersion(publicClient, { list: d.list, version: log.version }));
    }

    for (const maxBlockRange of [1n, 2n, 3n, 5n]) {
      const paged = await getVersionPublishedLogs(publicClient, { list: d.list, fromBlock: 0n, maxBlockRange });
      expect(paged).to.deep.equal(all);
    }
    const lastTwo = await getVersionPublishedLogs(publicClient, {
      list: d.list,
      fromBlock: all[1].blockNumber,
      toBlock: all[2].blockNumber,
      maxBlockRange: 2n,
    });
    expect(lastTwo).to.deep.equal(all.slice(1));
  });

  it('watches for new versions', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const received: VersionPublishedLog[] = [];
    const errors: Error[] = [];
    let resolveTwo: () => void = () => {};
    const gotTwo = new Promise<void>((resolve) => {
      resolveTwo = resolve;
    });
    const unwatch = watchVersionPublished(publicClient, {
      list: d.list,
      pollingInterval: POLLING_INTERVAL,
      onLogs: (logs) => {
        received.push(...logs);
        if (received.length >= 2) resolveTwo();
      },
      onError: (error) => errors.push(error),
    });
    try {
      // Let the first poll pass, so version 1 is behind the watcher.
      await new Promise((resolve) => setTimeout(resolve, 5 * POLLING_INTERVAL));
      const v2 = randomEntryIds(11) as Hex[];
      await publishAsTimelock(d, {
        parentVersion: 1n,
        root: entryTree(v2).root as Hex,
        count: 11,
        added: 1,
        removed: 0,
        payloadCid: CID_V0,
      });
      await networkHelpers.mine(2);
      await publishAsTimelock(d, {
        parentVersion: 2n,
        root: zeroHash,
        count: 0,
        added: 0,
        removed: 11,
        payloadCid: CID_V1,
      });
      await within(gotTwo, 5_000, 'two VersionPublished events');
    } finally {
      unwatch();
    }
    expect(errors).to.deep.equal([]);
    expect(received.map((log) => log.version)).to.deep.equal([2n, 3n]);
    expect(received[0].payloadCid?.equals(CID_V0)).to.equal(true);
  });

  it('watches from a given block, and stops on abort', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const controller = new AbortController();
    const received = await within(
      new Promise<VersionPublishedLog[]>((resolve, reject) => {
        watchVersionPublished(publicClient, {
          list: d.list,
          fromBlock: 0n,
          pollingInterval: POLLING_INTERVAL,
          signal: controller.signal,
          onLogs: resolve,
          onError: reject,
        });
      }),
      5_000,
      'the backfilled version',
    );
    controller.abort();
    expect(received.map((log) => log.version)).to.deep.equal([1n]);
  });

  it('puts a stale-parent revert in words', async () => {
    const d = await networkHelpers.loadFixture(listFixture);
    const timelock = await impersonatedWallet(d.timelock);
    const error = await timelock
      .writeContract({
        address: d.list,
        abi: illegalDataListAbi,
        functionName: 'publishVersion',
        args: [0n, entryTree(randomEntryIds(1)).root as Hex, 11, 1, 0, toHex(CID_V0.bytes)],
      })
      .catch((err: unknown) => err);
    expect(describeContractError(error)).to.equal(
      'The new list version was built on version 0, but the list is now at version 1; ' +
        'rebuild it on the current version and propose it again.',
    );
  });
});

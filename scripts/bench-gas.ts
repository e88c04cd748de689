/**
 * bench:gas — gas of a whole governance cycle (propose + vote + queue + execute)
 * that publishes a list version of 1, 1,000 and 100,000 entries, against a
 * baseline list that stores every entry in a mapping through the same cycle.
 *
 * Run with `npm run bench:gas`. The last line of stdout is one JSON object.
 */
import * as dagCbor from '@ipld/dag-cbor';
import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { hexlify, type Interface, id, randomBytes, type TransactionReceipt } from 'ethers';
import { network } from 'hardhat';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import RatingDaoModule from '../ignition/modules/RatingDao.js';
import localParameters from '../ignition/parameters/local.json' with { type: 'json' };

const VERSIONED_SIZES = [1, 1_000, 100_000];
const MAPPING_SIZES = [1, 1_000];
const FLATNESS_TOLERANCE = 0.05;
const MIN_RATIO_AT_1000 = 50;

// Prague, not the default Osaka: Osaka caps a transaction at 2^24 gas (EIP-7825),
// and the mapping baseline's execute at 1,000 entries needs more than that.
const HARDFORK = 'prague';
const { ethers, ignition, networkHelpers } = await network.create({ override: { hardfork: HARDFORK } });
const amounts = localParameters.RatingDao.amounts.map((a) => BigInt(a.slice(0, -1)));
const dao = await ignition.deploy(RatingDaoModule, {
  parameters: { RatingDao: { ...localParameters.RatingDao, amounts } },
});
const governor = await ethers.getContractAt('RatingGovernor', await dao.governor.getAddress());
const list = await ethers.getContractAt('IllegalDataList', await dao.list.getAddress());
const mappingList = await ethers.deployContract('MappingIllegalDataList', [await dao.timelock.getAddress()]);
// One holder with 40% of the supply passes every proposal alone.
const [voter] = await ethers.getSigners();

// Measure the steady state, a new version of a list that already has one: the
// first version of a list, like the first entry of a mapping, also pays once
// for turning zero storage slots non-zero.
const [firstId] = sortedIds(1);
const timelock = await dao.timelock.getAddress();
await networkHelpers.impersonateAccount(timelock);
await networkHelpers.setBalance(timelock, 10n ** 18n);
const executor = await ethers.getSigner(timelock);
await list.connect(executor).publishVersion(0n, entryRoot([firstId]), 1, 1, 0, await payloadCid([firstId]));
await mappingList.connect(executor).addEntries([firstId]);
await networkHelpers.stopImpersonatingAccount(timelock);
const clean = await networkHelpers.takeSnapshot();

function sortedIds(n: number): string[] {
  return Array.from({ length: n }, () => hexlify(randomBytes(32))).sort();
}

function entryRoot(ids: string[]): string {
  return StandardMerkleTree.of(
    ids.map((i) => [i]),
    ['bytes32'],
  ).root;
}

/**
 * CID of the ids as dag-cbor. The real payload (a header and 1 MiB chunks) is
 * content-addressed the same way, so its CID has the same length, which is all
 * the on-chain cost depends on.
 */
async function payloadCid(ids: string[]): Promise<Uint8Array> {
  const bytes = dagCbor.encode(ids.map((i) => ethers.getBytes(i)));
  return CID.create(1, dagCbor.code, await sha256.digest(bytes)).bytes;
}

/** Runs one governance cycle of a single call and returns the gas of every transaction in it. */
async function cycleGas(target: string, iface: Interface, method: string, args: unknown[], from: HardhatEthersSigner) {
  const targets = [target];
  const values = [0n];
  const calldatas = [iface.encodeFunctionData(method, args)];
  const description = 'Benchmark: publish a list version';
  const descriptionHash = id(description);
  const receipts: (TransactionReceipt | null)[] = [];
  const send = async (tx: Promise<{ wait(): Promise<TransactionReceipt | null> }>) =>
    receipts.push(await (await tx).wait());

  await send(governor.connect(from).propose(targets, values, calldatas, description));
  const proposalId = await governor.getProposalId(targets, values, calldatas, descriptionHash);
  await networkHelpers.time.increaseTo((await governor.proposalSnapshot(proposalId)) + 1n);
  await send(governor.connect(from).castVote(proposalId, 1));
  await networkHelpers.time.increaseTo((await governor.proposalDeadline(proposalId)) + 1n);
  await send(governor.queue(targets, values, calldatas, descriptionHash));
  await networkHelpers.time.increaseTo(await governor.proposalEta(proposalId));
  await send(governor.execute(targets, values, calldatas, descriptionHash));
  if ((await governor.state(proposalId)) !== 7n) throw new Error(`proposal ${proposalId} was not executed`);
  return receipts.reduce((sum, r) => sum + (r?.gasUsed ?? 0n), 0n);
}

const cycle: Record<string, number> = {};
const mappingCycle: Record<string, number> = {};

for (const n of VERSIONED_SIZES) {
  await clean.restore();
  // Version 2 replaces the first entry with n new ones.
  const ids = sortedIds(n);
  const gas = await cycleGas(
    await list.getAddress(),
    list.interface,
    'publishVersion',
    [1n, entryRoot(ids), n, n, 1, await payloadCid(ids)],
    voter,
  );
  if ((await list.getVersion(2n)).count !== BigInt(n)) throw new Error(`version of ${n} entries not published`);
  cycle[n] = Number(gas);
  console.error(`versioned list, ${n} entries: ${gas} gas`);
}

for (const n of MAPPING_SIZES) {
  await clean.restore();
  const ids = sortedIds(n);
  const gas = await cycleGas(await mappingList.getAddress(), mappingList.interface, 'addEntries', [ids], voter);
  if ((await mappingList.count()) !== BigInt(n + 1)) throw new Error(`mapping of ${n} entries not stored`);
  mappingCycle[n] = Number(gas);
  console.error(`mapping list, ${n} entries: ${gas} gas`);
}

const ratioAt1000 = mappingCycle[1000] / cycle[1000];
const flatness = Math.abs(cycle[100_000] - cycle[1]) / cycle[1];

console.log(`\nGas of a whole governance cycle (propose + vote + queue + execute), ${HARDFORK} rules\n`);
console.table(
  VERSIONED_SIZES.map((n) => ({
    entries: n.toLocaleString('en'),
    'versioned list': cycle[n].toLocaleString('en'),
    'mapping list': mappingCycle[n]?.toLocaleString('en') ?? '—',
  })),
);
const flatOk = flatness <= FLATNESS_TOLERANCE;
const ratioOk = ratioAt1000 >= MIN_RATIO_AT_1000;
console.log(
  `100,000 vs 1 entry: ${(flatness * 100).toFixed(3)}% apart (target ≤ ${FLATNESS_TOLERANCE * 100}%) ${flatOk ? 'OK' : 'MISSED'}`,
);
console.log(
  `mapping / versioned at 1,000 entries: ${ratioAt1000.toFixed(1)} (target ≥ ${MIN_RATIO_AT_1000}) ${ratioOk ? 'OK' : 'MISSED'}`,
);
console.log(JSON.stringify({ cycleGas: cycle, mappingCycleGas: mappingCycle, ratioAt1000 }));
if (!flatOk || !ratioOk) process.exitCode = 1;

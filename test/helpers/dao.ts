import type { HardhatEthersSigner } from '@nomicfoundation/hardhat-ethers/types';
import { type Interface, id } from 'ethers';
import { network } from 'hardhat';
import RatingDaoModule from '../../ignition/modules/RatingDao.js';
import localParameters from '../../ignition/parameters/local.json' with { type: 'json' };
import type { RatingGovernor } from '../../types/ethers-contracts/index.js';

/** One in-process chain shared by every test file; fixtures snapshot and revert it. */
export const connection = await network.create();
export const { ethers, ignition, networkHelpers } = connection;

export const LOCAL_PARAMETERS = localParameters.RatingDao;

/** The local holders' amounts, as bigints (Ignition's parameter files write them as "123n"). */
export const LOCAL_AMOUNTS = LOCAL_PARAMETERS.amounts.map((amount) => BigInt(amount.slice(0, -1)));

/** Deploys the DAO through the real Ignition module with the local parameters. */
export async function deployDao(overrides: Record<string, unknown> = {}) {
  const signers = await ethers.getSigners();
  const deployed = await ignition.deploy(RatingDaoModule, {
    parameters: { RatingDao: { ...LOCAL_PARAMETERS, amounts: LOCAL_AMOUNTS, ...overrides } },
  });
  const at = async <T extends string>(name: T, contract: { getAddress(): Promise<string> }) =>
    contract.getAddress().then((address) => ({ name, address }));
  const addresses = await Promise.all([
    at('RatingToken', deployed.token),
    at('TimelockController', deployed.timelock),
    at('RatingGovernor', deployed.governor),
    at('RatingServerRegistry', deployed.registry),
    at('IllegalDataList', deployed.list),
  ]);
  const [token, timelock, governor, registry, list] = await Promise.all([
    ethers.getContractAt('RatingToken', addresses[0].address),
    ethers.getContractAt('TimelockController', addresses[1].address),
    ethers.getContractAt('RatingGovernor', addresses[2].address),
    ethers.getContractAt('RatingServerRegistry', addresses[3].address),
    ethers.getContractAt('IllegalDataList', addresses[4].address),
  ]);
  // Signers 0–4 are the local holders; 5 and up hold nothing.
  const holders = signers.slice(0, 5);
  const outsiders = signers.slice(5);
  return { token, timelock, governor, registry, list, holders, outsiders, deployer: signers[0] };
}

export type Dao = Awaited<ReturnType<typeof deployDao>>;

/** The DAO as `deploy:local` deploys it, as a fixture for `loadFixture`. */
export function daoFixture(): Promise<Dao> {
  return deployDao();
}

/** Vote support values of GovernorCountingSimple. */
export const Vote = { Against: 0, For: 1, Abstain: 2 } as const;

/** Proposal states of IGovernor. */
export const ProposalState = {
  Pending: 0n,
  Active: 1n,
  Canceled: 2n,
  Defeated: 3n,
  Succeeded: 4n,
  Queued: 5n,
  Expired: 6n,
  Executed: 7n,
} as const;

export interface Call {
  target: string;
  iface: Interface;
  method: string;
  args: unknown[];
}

export interface Proposal {
  targets: string[];
  values: bigint[];
  calldatas: string[];
  description: string;
  descriptionHash: string;
}

/** Builds a proposal made of contract calls. */
export function proposal(calls: Call[], description: string): Proposal {
  return {
    targets: calls.map((c) => c.target),
    values: calls.map(() => 0n),
    calldatas: calls.map((c) => c.iface.encodeFunctionData(c.method, c.args)),
    description,
    descriptionHash: id(description),
  };
}

/** Submits `p` from `proposer` and returns its id once voting is open. */
export async function propose(governor: RatingGovernor, p: Proposal, proposer: HardhatEthersSigner) {
  await governor.connect(proposer).propose(p.targets, p.values, p.calldatas, p.description);
  const proposalId = await governor.getProposalId(p.targets, p.values, p.calldatas, p.descriptionHash);
  const snapshot = await governor.proposalSnapshot(proposalId);
  await networkHelpers.time.increaseTo(snapshot + 1n);
  return proposalId;
}

/** Moves time past the proposal's deadline. */
export async function endVoting(governor: RatingGovernor, proposalId: bigint) {
  await networkHelpers.time.increaseTo((await governor.proposalDeadline(proposalId)) + 1n);
}

/**
 * Runs the whole cycle for `p`: propose, every voter votes for, queue, wait
 * out the timelock, execute. Returns the proposal id and the execute receipt.
 */
export async function passProposal(dao: Dao, p: Proposal, voters: HardhatEthersSigner[] = dao.holders) {
  const { governor } = dao;
  const proposalId = await propose(governor, p, voters[0]);
  for (const voter of voters) await governor.connect(voter).castVote(proposalId, Vote.For);
  await endVoting(governor, proposalId);
  await governor.queue(p.targets, p.values, p.calldatas, p.descriptionHash);
  await networkHelpers.time.increaseTo(await governor.proposalEta(proposalId));
  const tx = await governor.execute(p.targets, p.values, p.calldatas, p.descriptionHash);
  return { proposalId, receipt: await tx.wait() };
}

import type { IgnitionModuleBuilder } from '@nomicfoundation/ignition-core';
import { id, ZeroAddress, ZeroHash } from 'ethers';

/**
 * Local defaults, short enough that a whole propose → vote → queue → execute
 * cycle runs in a test. Every value is a module parameter: set real ones for a
 * real network (see README, "Deploy to another network").
 */
export const GOVERNANCE_DEFAULTS = {
  tokenName: 'Node Rating Token',
  tokenSymbol: 'NRT',
  governorName: 'Node Rating Governor',
  /** Seconds from proposal to snapshot. 0: voting power is taken at proposal time. */
  votingDelay: 0,
  /** Seconds that voting stays open. */
  votingPeriod: 300,
  /** Votes needed to propose, in the token's smallest unit. */
  proposalThreshold: 0n,
  /** Percentage of the supply at the snapshot that must vote for or abstain. */
  quorumPercent: 4,
  /** Seconds voting stays open at least after quorum is reached (PreventLateQuorum). */
  voteExtension: 60,
  /** Seconds a passed proposal waits in the timelock before it can be executed. */
  timelockDelay: 60,
} as const;

/**
 * Adds a token, a timelock and a Governor to module `m`, and wires them: the
 * Governor is the timelock's only proposer and canceller, anyone may execute,
 * and the deployer renounces the timelock's admin role once everything that
 * needs it in `adminCalls` is done.
 *
 * This is a helper, not an Ignition submodule, on purpose: a submodule's
 * futures are shared by every module of a deployment that uses it, so a fork
 * deployed next to its parent would silently reuse the parent's governance.
 */
export function buildGovernance(m: IgnitionModuleBuilder) {
  const deployer = m.getAccount(0);
  const d = GOVERNANCE_DEFAULTS;

  const token = m.contract('RatingToken', [
    m.getParameter('tokenName', d.tokenName),
    m.getParameter('tokenSymbol', d.tokenSymbol),
    m.getParameter<string[]>('holders'),
    m.getParameter<bigint[]>('amounts'),
  ]);

  // Proposers are granted below, once the Governor exists. The zero address as
  // executor means anyone may execute a proposal whose delay has passed.
  const timelock = m.contract('TimelockController', [
    m.getParameter('timelockDelay', d.timelockDelay),
    [],
    [ZeroAddress],
    deployer,
  ]);

  const governor = m.contract('RatingGovernor', [
    m.getParameter('governorName', d.governorName),
    token,
    timelock,
    m.getParameter('votingDelay', d.votingDelay),
    m.getParameter('votingPeriod', d.votingPeriod),
    m.getParameter('proposalThreshold', d.proposalThreshold),
    m.getParameter('quorumPercent', d.quorumPercent),
    m.getParameter('voteExtension', d.voteExtension),
  ]);

  const grantProposer = m.call(timelock, 'grantRole', [id('PROPOSER_ROLE'), governor], {
    id: 'GrantProposerRole',
  });
  const grantCanceller = m.call(timelock, 'grantRole', [id('CANCELLER_ROLE'), governor], {
    id: 'GrantCancellerRole',
  });
  const renounceAdmin = m.call(timelock, 'renounceRole', [ZeroHash, deployer], {
    id: 'RenounceTimelockAdmin',
    after: [grantProposer, grantCanceller],
  });

  return { token, timelock, governor, renounceAdmin };
}

import type { Address } from 'viem';
import {
  callsToActions,
  castVote,
  executeProposal,
  getProposal,
  type ProposalCall,
  propose,
  queueProposal,
} from '../chain/governance.js';
import type { DemoChain } from './chain.js';

export interface VoteThroughParameters {
  governor: Address;
  calls: ProposalCall[];
  description: string;
  /** Hardhat accounts that vote for, the first of them also proposes. */
  voters: readonly number[];
  /** The first block to search for the proposal's events. */
  fromBlock: bigint;
  /** One line per stage, for the timeline. */
  onProgress?: (line: string) => void;
}

export interface VoteThroughReturnType {
  proposalId: bigint;
  /** Wall-clock time (ms) at which the execute transaction was mined: from then on, the change is in force. */
  executedAt: number;
}

/** A proposal did not reach the state the demo expected. */
export class DemoVoteError extends Error {
  override name = 'DemoVoteError';
}

/**
 * A whole Governor cycle with the project's own chain actions: propose, every voter votes for, the local chain's
 * clock skips the voting period, queue, the clock skips the timelock delay, execute.
 *
 * @example
 * await voteThrough(chain, { governor, calls: [serverStatusCall(registry, 1n, 'active')], description, voters: [0, 1, 2], fromBlock });
 */
export async function voteThrough(chain: DemoChain, parameters: VoteThroughParameters): Promise<VoteThroughReturnType> {
  const { governor, calls, description, voters, fromBlock } = parameters;
  const progress = parameters.onProgress ?? (() => {});
  const actions = callsToActions(calls, description);
  const { proposalId } = await propose(chain.wallet(voters[0]), { governor, calls, description });
  progress(`proposal ${short(proposalId)} submitted by holder ${voters[0]}`);
  let proposal = await getProposal(chain.publicClient, { governor, proposalId, fromBlock });
  // With no voting delay the snapshot is the proposal's own second: voting opens in the next one.
  if (proposal.state === 'pending') {
    await chain.advance(Number(proposal.voteStart - (await chain.now())) + 1);
  }
  for (const voter of voters) {
    await castVote(chain.wallet(voter), { governor, proposalId, support: 'for' });
  }
  proposal = await getProposal(chain.publicClient, { governor, proposalId, fromBlock });
  progress(`${voters.length} holders voted for (${formatTokens(proposal.votes.for)} tokens)`);
  await chain.advance(Number(proposal.deadline - (await chain.now())) + 1);
  proposal = await getProposal(chain.publicClient, { governor, proposalId, fromBlock });
  if (proposal.state !== 'succeeded') throw new DemoVoteError(`The proposal is ${proposal.state}, not succeeded`);
  const { eta } = await queueProposal(chain.wallet(voters[0]), { governor, proposalId, actions });
  await chain.advance(Number(eta - (await chain.now())) + 1);
  await executeProposal(chain.wallet(voters[0]), { governor, proposalId, actions });
  const executedAt = Date.now();
  progress('voting period and timelock delay skipped on the local chain; queued and executed');
  return { proposalId, executedAt };
}

function short(id: bigint): string {
  const text = id.toString();
  return text.length > 12 ? `${text.slice(0, 6)}…${text.slice(-4)}` : text;
}

function formatTokens(amount: bigint): string {
  return (amount / 10n ** 18n).toLocaleString('en-US');
}

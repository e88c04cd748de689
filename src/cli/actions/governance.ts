import { type Address, getAddress, isAddress } from 'viem';
import { ratingTokenAbi } from '../../chain/abis.js';
import { describeContractError } from '../../chain/describe-error.js';
import {
  castVote,
  delegate,
  executeProposal,
  getDelegate,
  getProposal,
  getVotingPower,
  queueProposal,
  VOTE_SUPPORTS,
  type VoteSupport,
} from '../../chain/governance.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatTime, formatTokens, parseProposalId } from '../format.js';

async function proposalOf(ctx: CliContext, idText: string, governorFlag?: string) {
  let proposalId: bigint;
  try {
    proposalId = parseProposalId(idText);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const governor = await ctx.contract('RatingGovernor', governorFlag);
  const client = await ctx.publicClient();
  const proposal = await getProposal(client, { governor, proposalId, fromBlock: await ctx.fromBlock() }).catch(fail);
  return { governor, proposalId, proposal };
}

export async function vote(
  ctx: CliContext,
  idText: string,
  supportText: string,
  options: { reason?: string; governor?: string },
) {
  const support = supportText.toLowerCase() as VoteSupport;
  if (!VOTE_SUPPORTS.includes(support)) {
    throw new CliError(`Vote ${VOTE_SUPPORTS.join(', ')}, not “${supportText}”.`);
  }
  const { governor, proposalId, proposal } = await proposalOf(ctx, idText, options.governor);
  if (proposal.state !== 'active') {
    throw new CliError(`Proposal ${proposalId} is ${proposal.state}; votes are only taken while it is active.`);
  }
  const wallet = await ctx.walletClient();
  const result = await castVote(wallet, { governor, proposalId, support, reason: options.reason }).catch(fail);
  const after = await getProposal(await ctx.publicClient(), { governor, proposalId, fromBlock: await ctx.fromBlock() });
  ctx.output.result(
    { proposalId, support, weight: result.weight, transaction: result.hash, votes: after.votes },
    (r) => {
      ctx.output.line(
        `Voted ${support} on proposal ${proposalId} with ${formatTokens(r.weight)} votes (${r.transaction}).`,
      );
      ctx.output.line(
        `Tally: for ${formatTokens(r.votes.for)}, against ${formatTokens(r.votes.against)}, abstain ${formatTokens(r.votes.abstain)}`,
      );
    },
  );
}

export async function queue(ctx: CliContext, idText: string, options: { governor?: string }) {
  const { governor, proposalId, proposal } = await proposalOf(ctx, idText, options.governor);
  if (proposal.state !== 'succeeded') {
    throw new CliError(`Proposal ${proposalId} is ${proposal.state}; only a succeeded proposal can be queued.`);
  }
  const wallet = await ctx.walletClient();
  const result = await queueProposal(wallet, { governor, proposalId, actions: proposal }).catch(fail);
  ctx.output.result({ proposalId, eta: result.eta, transaction: result.hash }, (r) => {
    ctx.output.line(`Queued proposal ${proposalId} (${r.transaction}).`);
    ctx.output.line(`It can be executed from ${formatTime(r.eta)}: nrp execute ${proposalId}`);
  });
}

export async function execute(ctx: CliContext, idText: string, options: { governor?: string }) {
  const { governor, proposalId, proposal } = await proposalOf(ctx, idText, options.governor);
  if (proposal.state !== 'queued') {
    throw new CliError(`Proposal ${proposalId} is ${proposal.state}; only a queued proposal can be executed.`);
  }
  const block = await (await ctx.publicClient()).getBlock();
  if (proposal.eta !== null && block.timestamp < proposal.eta) {
    throw new CliError(`Proposal ${proposalId} waits in the timelock until ${formatTime(proposal.eta)}.`);
  }
  const wallet = await ctx.walletClient();
  const result = await executeProposal(wallet, { governor, proposalId, actions: proposal }).catch(fail);
  ctx.output.result({ proposalId, transaction: result.hash }, (r) => {
    ctx.output.line(`Executed proposal ${proposalId} (${r.transaction}).`);
  });
}

export async function delegateTo(ctx: CliContext, addressText: string, options: { token?: string }) {
  if (!isAddress(addressText)) throw new CliError(`Not an address: ${addressText}`);
  const delegatee = getAddress(addressText);
  const token = await ctx.contract('RatingToken', options.token);
  const wallet = await ctx.walletClient();
  const result = await delegate(wallet, { token, delegatee }).catch(fail);
  const client = await ctx.publicClient();
  const power = await getVotingPower(client, { token, account: delegatee });
  ctx.output.result({ delegator: wallet.account.address, delegatee, transaction: result.hash, votes: power }, (r) => {
    const self = delegatee === wallet.account.address;
    ctx.output.line(
      self
        ? `You vote with your own balance again (${r.transaction}).`
        : `${delegatee} now votes with your tokens (${r.transaction}).`,
    );
    ctx.output.line(`${delegatee} has ${formatTokens(power)} votes.`);
  });
}

export async function showPower(ctx: CliContext, addressText: string | undefined, options: { token?: string }) {
  let account: Address;
  if (addressText) {
    if (!isAddress(addressText)) throw new CliError(`Not an address: ${addressText}`);
    account = getAddress(addressText);
  } else {
    account = (await ctx.account()).address;
  }
  const token = await ctx.contract('RatingToken', options.token);
  const client = await ctx.publicClient();
  const [votes, delegatee, balance] = await Promise.all([
    getVotingPower(client, { token, account }),
    getDelegate(client, { token, account }),
    client.readContract({ address: token, abi: ratingTokenAbi, functionName: 'balanceOf', args: [account] }),
  ]);
  ctx.output.result({ account, balance, delegate: delegatee, votes }, () => {
    ctx.output.line(`${account}`);
    ctx.output.line(`  balance:      ${formatTokens(balance)}`);
    ctx.output.line(
      delegatee === account
        ? '  delegate:     itself (holders vote with their own balance unless they delegate)'
        : `  delegate:     ${delegatee}`,
    );
    ctx.output.line(`  voting power: ${formatTokens(votes)}`);
  });
}

/** A chain error as a CLI error in words: custom errors and reverts spelt out. */
export function fail(error: unknown): never {
  throw new CliError(describeContractError(error), 1, { cause: error });
}

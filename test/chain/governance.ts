import { expect } from 'chai';
import { CID } from 'multiformats/cid';
import type { Hex } from 'viem';
import { GOVERNANCE_DEFAULTS } from '../../ignition/modules/governance.js';
import { ratingGovernorAbi } from '../../src/chain/abis.js';
import { decodeContractError, describeContractError } from '../../src/chain/describe-error.js';
import { ProposalNotFoundError } from '../../src/chain/errors.js';
import {
  callsToActions,
  castVote,
  delegate,
  executeProposal,
  getDelegate,
  getGovernorSettings,
  getProposal,
  getVotingPower,
  hashProposal,
  hasVoted,
  listProposals,
  type ProposalState,
  proposalExists,
  propose,
  proposeOnce,
  queueProposal,
} from '../../src/chain/governance.js';
import { decodePublishVersion, getListVersion, publishVersionCall } from '../../src/chain/lists.js';
import { LOCAL_AMOUNTS, networkHelpers } from '../helpers/dao.js';
import { entryTree, randomEntryIds } from '../helpers/merkle.js';
import { publicClient, type ViemDao, viemDaoFixture } from './helpers.js';

const PAYLOAD_CID = CID.parse('bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje');

/** The first version of the DAO's list, with `n` random entries, as a proposal call. */
function firstVersionCall(d: ViemDao, n = 10) {
  const tree = entryTree(randomEntryIds(n));
  const version = {
    parentVersion: 0n,
    root: tree.root as Hex,
    count: n,
    added: n,
    removed: 0,
    payloadCid: PAYLOAD_CID,
  };
  return { version, call: publishVersionCall(d.list, version) };
}

async function stateOf(d: ViemDao, proposalId: bigint): Promise<ProposalState> {
  return (await getProposal(publicClient, { governor: d.governor, proposalId })).state;
}

/** Moves the chain's clock to `timestamp` (seconds) and mines a block there. */
async function timeTravelTo(timestamp: bigint) {
  await networkHelpers.time.increaseTo(timestamp);
}

describe('chain client: governance', () => {
  it('runs a whole cycle: propose, vote with a reason, queue, execute, and the list has the new version', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const [alice, bob] = d.holders;
    const { version, call } = firstVersionCall(d);
    const description = 'List version 1: the first ten entries';

    const proposed = await propose(alice, { governor: d.governor, calls: [call], description });
    expect(proposed.receipt.status).to.equal('success');
    expect(proposed.proposalId).to.equal(hashProposal(callsToActions([call], description)));

    let proposal = await getProposal(publicClient, { governor: d.governor, proposalId: proposed.proposalId });
    expect(proposal).to.deep.include({
      governor: d.governor,
      proposalId: proposed.proposalId,
      proposer: alice.account.address,
      targets: [d.list],
      values: [0n],
      calldatas: [call.data],
      description,
      state: 'pending',
      votes: { for: 0n, against: 0n, abstain: 0n },
      // The snapshot is the proposal's own block: its supply is not history yet.
      quorum: null,
      eta: null,
    });
    expect(proposal.descriptionHash).to.equal(callsToActions([call], description).descriptionHash);
    expect(proposal.created.transactionHash).to.equal(proposed.hash);
    expect(proposal.voteEnd - proposal.voteStart).to.equal(BigInt(GOVERNANCE_DEFAULTS.votingPeriod));
    expect(proposal.deadline).to.equal(proposal.voteEnd);
    // Voters can read what they vote on.
    const proposedVersion = decodePublishVersion(proposal.calldatas[0]);
    expect(proposedVersion.payloadCid.equals(PAYLOAD_CID)).to.equal(true);
    expect({ ...proposedVersion, payloadCid: undefined }).to.deep.equal({ ...version, payloadCid: undefined });

    await timeTravelTo(proposal.voteStart + 1n);
    expect(await stateOf(d, proposed.proposalId)).to.equal('active');

    const reason = 'The entries match the policy';
    const vote = await castVote(alice, {
      governor: d.governor,
      proposalId: proposed.proposalId,
      support: 'for',
      reason,
    });
    expect(vote.weight).to.equal(LOCAL_AMOUNTS[0]);
    await castVote(bob, { governor: d.governor, proposalId: proposed.proposalId, support: 'abstain' });
    expect(
      await hasVoted(publicClient, {
        governor: d.governor,
        proposalId: proposed.proposalId,
        account: alice.account.address,
      }),
    ).to.equal(true);
    // The reason is on chain, in the VoteCast event.
    const voteLogs = await publicClient.getContractEvents({
      address: d.governor,
      abi: ratingGovernorAbi,
      eventName: 'VoteCast',
      fromBlock: 0n,
    });
    expect(voteLogs.map((log) => log.args.reason)).to.deep.equal([reason, '']);

    proposal = await getProposal(publicClient, { governor: d.governor, proposalId: proposed.proposalId });
    expect(proposal.votes).to.deep.equal({ for: LOCAL_AMOUNTS[0], against: 0n, abstain: LOCAL_AMOUNTS[1] });
    const supply = LOCAL_AMOUNTS.reduce((sum, amount) => sum + amount, 0n);
    expect(proposal.quorum).to.equal((supply * BigInt(GOVERNANCE_DEFAULTS.quorumPercent)) / 100n);

    await timeTravelTo(proposal.deadline + 1n);
    expect(await stateOf(d, proposed.proposalId)).to.equal('succeeded');

    // Anyone may queue and execute; the outsider looks the actions up from the ProposalCreated event.
    const queued = await queueProposal(d.outsider, { governor: d.governor, proposalId: proposed.proposalId });
    proposal = await getProposal(publicClient, { governor: d.governor, proposalId: proposed.proposalId });
    expect(proposal.state).to.equal('queued');
    expect(proposal.eta).to.equal(queued.eta);

    await timeTravelTo(queued.eta);
    const executed = await executeProposal(d.outsider, { governor: d.governor, proposalId: proposed.proposalId });
    expect(executed.receipt.status).to.equal('success');
    expect(await stateOf(d, proposed.proposalId)).to.equal('executed');

    const published = await getListVersion(publicClient, { list: d.list });
    expect(published).to.deep.include({ version: 1n, root: version.root, count: 10, added: 10, removed: 0 });
    expect(published.payloadCid.equals(PAYLOAD_CID)).to.equal(true);

    const listed = await listProposals(publicClient, { governor: d.governor, fromBlock: 0n, maxBlockRange: 3n });
    expect(listed.map((p) => [p.proposalId, p.state])).to.deep.equal([[proposed.proposalId, 'executed']]);
    expect(listed[0]).to.deep.equal(
      await getProposal(publicClient, { governor: d.governor, proposalId: proposed.proposalId }),
    );
  });

  it('queues and executes with the actions given, without reading events', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const { call } = firstVersionCall(d);
    const description = 'Given actions';
    const actions = callsToActions([call], description);
    const { proposalId } = await propose(d.holders[0], { governor: d.governor, calls: [call], description });
    const { voteStart } = await getProposal(publicClient, { governor: d.governor, proposalId });
    await timeTravelTo(voteStart + 1n);
    for (const voter of d.holders.slice(0, 3)) {
      await castVote(voter, { governor: d.governor, proposalId, support: 'for' });
    }
    await castVote(d.holders[3], { governor: d.governor, proposalId, support: 'against' });
    const { deadline, votes } = await getProposal(publicClient, { governor: d.governor, proposalId });
    expect(votes.against).to.equal(LOCAL_AMOUNTS[3]);
    await timeTravelTo(deadline + 1n);

    const sent: Hex[] = [];
    const { eta, hash } = await queueProposal(
      d.outsider,
      { governor: d.governor, proposalId, actions },
      { onTransactionSent: (txHash) => sent.push(txHash) },
    );
    expect(sent).to.deep.equal([hash]);
    await timeTravelTo(eta);
    await executeProposal(d.outsider, { governor: d.governor, proposalId, actions });
    expect((await getListVersion(publicClient, { list: d.list })).version).to.equal(1n);
  });

  it('lists every proposal in creation order, the same in pages', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const ids: bigint[] = [];
    for (const description of ['First', 'Second', 'Third']) {
      const { call } = firstVersionCall(d);
      ids.push((await propose(d.holders[1], { governor: d.governor, calls: [call], description })).proposalId);
      await networkHelpers.mine(2);
    }
    const all = await listProposals(publicClient, { governor: d.governor, fromBlock: 0n });
    expect(all.map((p) => p.proposalId)).to.deep.equal(ids);
    expect(all.map((p) => p.description)).to.deep.equal(['First', 'Second', 'Third']);
    expect(all.every((p) => p.state === 'active')).to.equal(true);
    expect(await listProposals(publicClient, { governor: d.governor, fromBlock: 0n, maxBlockRange: 1n })).to.deep.equal(
      all,
    );
    // Searching backwards from the newest block finds the oldest too, across many small pages.
    const first = await getProposal(publicClient, { governor: d.governor, proposalId: ids[0], maxBlockRange: 2n });
    expect(first).to.deep.equal(all[0]);
  });

  it('fails clearly for an unknown proposal, or one created before the blocks searched', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const unknown = await getProposal(publicClient, { governor: d.governor, proposalId: 123n }).catch(
      (e: unknown) => e,
    );
    expect(unknown).to.be.instanceOf(ProposalNotFoundError);
    expect((unknown as Error).message).to.match(/the Governor has no such proposal/);

    const { call } = firstVersionCall(d);
    const { proposalId, receipt } = await propose(d.holders[0], {
      governor: d.governor,
      calls: [call],
      description: 'Early',
    });
    await networkHelpers.mine(3);
    const missed = await getProposal(publicClient, {
      governor: d.governor,
      proposalId,
      fromBlock: receipt.blockNumber + 1n,
    }).catch((e: unknown) => e);
    expect(missed).to.be.instanceOf(ProposalNotFoundError);
    expect((missed as Error).message).to.match(/search from an earlier block/);
  });

  it('proposes once: the same calls and description again find the first proposal and send nothing', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const [alice, bob] = d.holders;
    const { call } = firstVersionCall(d);
    const parameters = { governor: d.governor, calls: [call], description: 'Once' };
    const expected = hashProposal(callsToActions([call], 'Once'));
    expect(await proposalExists(publicClient, { governor: d.governor, proposalId: expected })).to.equal(false);

    const first = await proposeOnce(alice, parameters);
    expect(first).to.include({ proposalId: expected, submitted: true });
    expect(first.transaction?.receipt.status).to.equal('success');
    expect(await proposalExists(publicClient, { governor: d.governor, proposalId: expected })).to.equal(true);

    const blockBefore = await publicClient.getBlockNumber();
    const again = await proposeOnce(bob, parameters);
    expect(again).to.deep.equal({ proposalId: expected, submitted: false });
    expect(await publicClient.getBlockNumber()).to.equal(blockBefore);
    // A different description is a different proposal.
    const other = await proposeOnce(bob, { ...parameters, description: 'Once more' });
    expect(other.submitted).to.equal(true);
    expect(other.proposalId).to.not.equal(expected);
  });

  it('puts a Governor state revert in words', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const { call } = firstVersionCall(d);
    const { proposalId } = await propose(d.holders[0], { governor: d.governor, calls: [call], description: 'Early' });
    // Voting has not opened yet: the proposal is pending.
    const error = await castVote(d.holders[1], { governor: d.governor, proposalId, support: 'for' }).catch(
      (e: unknown) => e,
    );
    expect(decodeContractError(error)?.errorName).to.equal('GovernorUnexpectedProposalState');
    expect(describeContractError(error)).to.equal(`Proposal ${proposalId} is pending, but this needs it to be active.`);

    const early = await queueProposal(d.outsider, { governor: d.governor, proposalId }).catch((e: unknown) => e);
    expect(describeContractError(early)).to.equal(
      `Proposal ${proposalId} is pending, but this needs it to be succeeded.`,
    );
  });

  it('puts a list revert in words when it bubbles up through the timelock and the Governor', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    // Two proposals built on the same version 0: whichever executes second is stale.
    const proposals = [];
    for (const description of ['Version 1, take A', 'Version 1, take B']) {
      const { call } = firstVersionCall(d);
      const { proposalId } = await propose(d.holders[0], { governor: d.governor, calls: [call], description });
      proposals.push(proposalId);
    }
    const { voteStart } = await getProposal(publicClient, { governor: d.governor, proposalId: proposals[1] });
    await timeTravelTo(voteStart + 1n);
    for (const proposalId of proposals)
      await castVote(d.holders[0], { governor: d.governor, proposalId, support: 'for' });
    const { deadline } = await getProposal(publicClient, { governor: d.governor, proposalId: proposals[1] });
    await timeTravelTo(deadline + 1n);
    let eta = 0n;
    for (const proposalId of proposals)
      ({ eta } = await queueProposal(d.outsider, { governor: d.governor, proposalId }));
    await timeTravelTo(eta);

    await executeProposal(d.outsider, { governor: d.governor, proposalId: proposals[0] });
    const error = await executeProposal(d.outsider, { governor: d.governor, proposalId: proposals[1] }).catch(
      (e: unknown) => e,
    );
    expect(decodeContractError(error)).to.deep.equal({
      errorName: 'IllegalDataListStaleParent',
      args: [0n, 1n],
    });
    expect(describeContractError(error)).to.match(/^The new list version was built on version 0, but the list is now/);
  });

  it('delegates voting power and reads it now and at a past timepoint', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const holder = d.holders[1];
    const delegatee = d.outsider.account.address;
    // A holder who never delegated votes with their own balance.
    expect(await getDelegate(publicClient, { token: d.token, account: holder.account.address })).to.equal(
      holder.account.address,
    );
    expect(await getVotingPower(publicClient, { token: d.token, account: holder.account.address })).to.equal(
      LOCAL_AMOUNTS[1],
    );
    const before = BigInt(await networkHelpers.time.latest());
    await networkHelpers.mine(1);

    await delegate(holder, { token: d.token, delegatee });
    expect(await getDelegate(publicClient, { token: d.token, account: holder.account.address })).to.equal(delegatee);
    expect(await getVotingPower(publicClient, { token: d.token, account: delegatee })).to.equal(LOCAL_AMOUNTS[1]);
    expect(await getVotingPower(publicClient, { token: d.token, account: holder.account.address })).to.equal(0n);
    expect(await getVotingPower(publicClient, { token: d.token, account: delegatee, timepoint: before })).to.equal(0n);
    expect(
      await getVotingPower(publicClient, { token: d.token, account: holder.account.address, timepoint: before }),
    ).to.equal(LOCAL_AMOUNTS[1]);

    const future = await getVotingPower(publicClient, {
      token: d.token,
      account: delegatee,
      timepoint: before + 1_000n,
    }).catch((e: unknown) => e);
    expect(describeContractError(future)).to.match(/^Votes at \d+ are not known yet: the clock is at \d+/);
  });

  it('reads the Governor settings', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    expect(await getGovernorSettings(publicClient, { governor: d.governor })).to.deep.equal({
      name: GOVERNANCE_DEFAULTS.governorName,
      token: d.token,
      timelock: d.timelock,
      votingDelay: GOVERNANCE_DEFAULTS.votingDelay,
      votingPeriod: GOVERNANCE_DEFAULTS.votingPeriod,
      proposalThreshold: GOVERNANCE_DEFAULTS.proposalThreshold,
      quorumPercent: BigInt(GOVERNANCE_DEFAULTS.quorumPercent),
      voteExtension: GOVERNANCE_DEFAULTS.voteExtension,
    });
  });

  it('stops a transaction before sending it when the signal is aborted', async () => {
    const d = await networkHelpers.loadFixture(viemDaoFixture);
    const { call } = firstVersionCall(d);
    const controller = new AbortController();
    controller.abort(new Error('user cancelled'));
    const error = await propose(
      d.holders[0],
      { governor: d.governor, calls: [call], description: 'Never sent' },
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    expect((error as Error).message).to.equal('user cancelled');
    expect(await listProposals(publicClient, { governor: d.governor, fromBlock: 0n })).to.deep.equal([]);
  });
});

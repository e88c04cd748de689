import { anyUint } from '@nomicfoundation/hardhat-ethers-chai-matchers/withArgs';
import { expect } from 'chai';
import { id, ZeroAddress, ZeroHash } from 'ethers';
import { GOVERNANCE_DEFAULTS } from '../ignition/modules/governance.js';
import {
  type Dao,
  daoFixture,
  deployDao,
  endVoting,
  networkHelpers,
  ProposalState,
  passProposal,
  proposal,
  propose,
  Vote,
} from './helpers/dao.js';
import { cidBytes, entryTree, randomEntryIds } from './helpers/merkle.js';

const PAYLOAD_CID = cidBytes('bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje');

function publishProposal(dao: Dao, entryIds: string[], description = 'List version 1') {
  const tree = entryTree(entryIds);
  return {
    root: tree.root,
    p: proposal(
      [
        {
          target: dao.list.target as string,
          iface: dao.list.interface,
          method: 'publishVersion',
          args: [0n, tree.root, BigInt(entryIds.length), BigInt(entryIds.length), 0n, PAYLOAD_CID],
        },
      ],
      description,
    ),
  };
}

describe('RatingGovernor', () => {
  it('is configured from deployment parameters', async () => {
    const { governor, token, timelock } = await networkHelpers.loadFixture(daoFixture);
    expect(await governor.name()).to.equal(GOVERNANCE_DEFAULTS.governorName);
    expect(await governor.token()).to.equal(await token.getAddress());
    expect(await governor.timelock()).to.equal(await timelock.getAddress());
    expect(await governor.votingDelay()).to.equal(BigInt(GOVERNANCE_DEFAULTS.votingDelay));
    expect(await governor.votingPeriod()).to.equal(BigInt(GOVERNANCE_DEFAULTS.votingPeriod));
    expect(await governor.proposalThreshold()).to.equal(GOVERNANCE_DEFAULTS.proposalThreshold);
    expect(await governor['quorumNumerator()']()).to.equal(BigInt(GOVERNANCE_DEFAULTS.quorumPercent));
    expect(await governor.lateQuorumVoteExtension()).to.equal(BigInt(GOVERNANCE_DEFAULTS.voteExtension));
    expect(await governor.CLOCK_MODE()).to.equal('mode=timestamp');
    expect(await timelock.getMinDelay()).to.equal(BigInt(GOVERNANCE_DEFAULTS.timelockDelay));
  });

  it('wires the timelock: Governor proposes and cancels, anyone executes, no admin is left', async () => {
    const { governor, timelock, deployer } = await networkHelpers.loadFixture(daoFixture);
    expect(await timelock.hasRole(id('PROPOSER_ROLE'), governor)).to.equal(true);
    expect(await timelock.hasRole(id('CANCELLER_ROLE'), governor)).to.equal(true);
    expect(await timelock.hasRole(id('EXECUTOR_ROLE'), ZeroAddress)).to.equal(true);
    expect(await timelock.hasRole(ZeroHash, deployer)).to.equal(false);
    expect(await timelock.hasRole(ZeroHash, timelock)).to.equal(true);
    expect(await timelock.hasRole(id('PROPOSER_ROLE'), deployer)).to.equal(false);
  });

  it('runs the full cycle without anyone delegating: propose, vote, queue, execute publishVersion', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, list, token, holders } = dao;
    for (const holder of holders) expect(await token.delegates(holder)).to.equal(holder.address);
    const entryIds = randomEntryIds(3);
    const { p, root } = publishProposal(dao, entryIds);

    const proposalId = await propose(governor, p, holders[0]);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Active);
    await governor.connect(holders[0]).castVoteWithReason(proposalId, Vote.For, 'Listed by policy §1');
    await governor.connect(holders[1]).castVote(proposalId, Vote.For);
    await governor.connect(holders[2]).castVote(proposalId, Vote.Against);
    await governor.connect(holders[3]).castVote(proposalId, Vote.Abstain);
    const [against, forVotes, abstain] = await governor.proposalVotes(proposalId);
    expect(forVotes).to.equal((await token.balanceOf(holders[0])) + (await token.balanceOf(holders[1])));
    expect(against).to.equal(await token.balanceOf(holders[2]));
    expect(abstain).to.equal(await token.balanceOf(holders[3]));

    await endVoting(governor, proposalId);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Succeeded);
    await governor.queue(p.targets, p.values, p.calldatas, p.descriptionHash);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Queued);

    // The timelock delay holds the proposal back.
    await expect(governor.execute(p.targets, p.values, p.calldatas, p.descriptionHash)).to.be.revertedWithCustomError(
      dao.timelock,
      'TimelockUnexpectedOperationState',
    );
    await networkHelpers.time.increaseTo(await governor.proposalEta(proposalId));

    // Anyone may execute: here an account with no tokens.
    const executeTx = governor.connect(dao.outsiders[0]).execute(p.targets, p.values, p.calldatas, p.descriptionHash);
    await expect(executeTx).to.emit(list, 'VersionPublished').withArgs(1n, 0n, root, 3n, 3n, 0n, PAYLOAD_CID, anyUint);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Executed);

    expect(await list.currentVersion()).to.equal(1n);
    const version = await list.getVersion(1n);
    expect(version.root).to.equal(root);
    expect(version.count).to.equal(3n);
    expect(version.added).to.equal(3n);
    expect(version.removed).to.equal(0n);
    expect(version.parentVersion).to.equal(0n);
    expect(version.payloadCid).to.equal(PAYLOAD_CID);
  });

  it('defeats a proposal that misses quorum, and the list stays unchanged', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, list, token, holders, outsiders } = dao;
    // A voter with 1% of the supply is below the 4% quorum.
    const small = (await token.totalSupply()) / 100n;
    await token.connect(holders[0]).transfer(outsiders[0], small);
    const { p } = publishProposal(dao, randomEntryIds(2));
    const proposalId = await propose(governor, p, outsiders[0]);
    await governor.connect(outsiders[0]).castVote(proposalId, Vote.For);
    await endVoting(governor, proposalId);

    expect(await governor.quorum((await governor.proposalSnapshot(proposalId)) - 1n)).to.be.greaterThan(small);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Defeated);
    await expect(governor.queue(p.targets, p.values, p.calldatas, p.descriptionHash)).to.be.revertedWithCustomError(
      governor,
      'GovernorUnexpectedProposalState',
    );
    expect(await list.currentVersion()).to.equal(0n);
  });

  it('defeats a proposal that more holders vote against', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, list, holders } = dao;
    const { p } = publishProposal(dao, randomEntryIds(2));
    const proposalId = await propose(governor, p, holders[3]);
    await governor.connect(holders[3]).castVote(proposalId, Vote.For);
    await governor.connect(holders[1]).castVote(proposalId, Vote.Against);
    await endVoting(governor, proposalId);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Defeated);
    expect(await list.currentVersion()).to.equal(0n);
  });

  it('takes voting power at proposal time: tokens bought or borrowed afterwards add no votes', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, token, holders, outsiders } = dao;
    const [whale] = holders;
    const [borrower] = outsiders;
    const { p } = publishProposal(dao, randomEntryIds(1));
    const proposalId = await propose(governor, p, holders[1]);

    // The borrower gets most of the supply after the proposal exists…
    const loan = await token.balanceOf(whale);
    await token.connect(whale).transfer(borrower, loan);
    expect(await token.getVotes(borrower)).to.equal(loan);
    // …but the proposal counts the votes of its snapshot.
    const snapshot = await governor.proposalSnapshot(proposalId);
    expect(await governor.getVotes(borrower, snapshot)).to.equal(0n);
    await governor.connect(borrower).castVote(proposalId, Vote.Against);
    const [against] = await governor.proposalVotes(proposalId);
    expect(against).to.equal(0n);

    // The lender still votes with what they held at the snapshot.
    await governor.connect(whale).castVote(proposalId, Vote.For);
    const [, forVotes] = await governor.proposalVotes(proposalId);
    expect(forVotes).to.equal(loan);
  });

  it('extends voting when quorum is reached late (PreventLateQuorum)', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, holders } = dao;
    const { p } = publishProposal(dao, randomEntryIds(1));
    const proposalId = await propose(governor, p, holders[0]);
    const deadline = await governor.proposalDeadline(proposalId);
    await networkHelpers.time.increaseTo(deadline - 5n);
    await expect(governor.connect(holders[0]).castVote(proposalId, Vote.For)).to.emit(governor, 'ProposalExtended');
    const extended = await governor.proposalDeadline(proposalId);
    expect(extended).to.be.greaterThan(deadline);
    await networkHelpers.time.increaseTo(deadline + 1n);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Active);
  });

  it('lets a proposer cancel a proposal while it is pending', async () => {
    // A DAO deployed with a voting delay, so the proposal stays pending for a while.
    const dao = await deployDao({ votingDelay: 3600 });
    const { governor, holders } = dao;
    const { p } = publishProposal(dao, randomEntryIds(1));
    await governor.connect(holders[1]).propose(p.targets, p.values, p.calldatas, p.description);
    const proposalId = await governor.getProposalId(p.targets, p.values, p.calldatas, p.descriptionHash);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Pending);
    await expect(governor.connect(holders[1]).cancel(p.targets, p.values, p.calldatas, p.descriptionHash))
      .to.emit(governor, 'ProposalCanceled')
      .withArgs(proposalId);
    expect(await governor.state(proposalId)).to.equal(ProposalState.Canceled);
  });

  it('changes its own parameters only by vote', async () => {
    const dao = await networkHelpers.loadFixture(daoFixture);
    const { governor, holders } = dao;
    await expect(governor.connect(holders[0]).setVotingPeriod(600)).to.be.revertedWithCustomError(
      governor,
      'GovernorOnlyExecutor',
    );
    const p = proposal(
      [
        { target: governor.target as string, iface: governor.interface, method: 'setVotingPeriod', args: [600] },
        { target: governor.target as string, iface: governor.interface, method: 'updateQuorumNumerator', args: [10] },
      ],
      'Longer votes, higher quorum',
    );
    await passProposal(dao, p);
    expect(await governor.votingPeriod()).to.equal(600n);
    expect(await governor['quorumNumerator()']()).to.equal(10n);
  });
});
